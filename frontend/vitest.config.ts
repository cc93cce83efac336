import { defineConfig } from "vitest/config";

// Unit tests of the pure front-end modules: plain Node, no DOM, so they stay fast and honest
// about having no browser dependency. Kept apart from vite.config.ts, which only builds the app.
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
