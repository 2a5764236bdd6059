// Re-exported so tests name one place for their registry helpers.
export { PASSWORD, REGISTRY_BIN, startRegistry, type TestRegistry, USER } from "@tsk/image/testing";
