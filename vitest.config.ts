import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    globalSetup: ["tests/helpers/global-postgres.ts"],
    include: ["tests/**/*.test.ts", "src/**/*.test.ts"],
    pool: "forks",
    // Two cores: the functions' Deno process and Postgres need the rest.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
