import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "console/test/**/*.test.ts"],
    // The console's end-to-end tests need its bundle: built here when missing or older than its sources.
    globalSetup: ["console/test/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start servers and child processes; two cores here.
    maxWorkers: 2,
  },
});
