// Worker threads do not inherit tsx's loader: register it, then run the TypeScript victim (bench/victim-worker.ts).
import { register } from "tsx/esm/api";

register();
await import("./victim-worker.ts");
