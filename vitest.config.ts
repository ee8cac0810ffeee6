import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "console/test/**/*.test.ts"],
    // The fast-check seed of the run; the console's end-to-end tests need its bundle: built when missing or stale.
    globalSetup: ["test/setup/seed.global.ts", "console/test/global-setup.ts"],
    setupFiles: ["test/setup/seed.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start servers and child processes; two cores here.
    maxWorkers: 2,
  },
});
