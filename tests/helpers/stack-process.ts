/** Moved to scripts/lib/stack-process.ts (the chaos soak uses it too); kept for existing imports. */
export { spawnStack, type SpawnOptions, type StackProcess } from "../../scripts/lib/stack-process.ts";
