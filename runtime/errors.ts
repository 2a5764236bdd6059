/**
 * The errors `@tsk/runtime` throws. Each carries the failing field, system
 * call or container id in its message, and the underlying error as `cause`.
 *
 * @module
 */

/**
 * Base class of every error `@tsk/runtime` throws on purpose.
 *
 * @example Catch any runtime error
 * ```ts
 * import { RuntimeError } from "@tsk/runtime";
 * try {
 *   throw new RuntimeError("Cannot start container: no init");
 * } catch (e) {
 *   if (e instanceof RuntimeError) console.error(e.message);
 * }
 * ```
 */
export class RuntimeError extends Error {
  /**
   * Creates the error.
   * @param message Sentence case, no trailing period.
   * @param options `cause` of the error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RuntimeError";
  }
}

/**
 * An OCI config (or runtime option) that is malformed or asks for something
 * tsk-runtime does not support; `field` is its JSON path (`process.args`).
 *
 * @example Name the bad field
 * ```ts
 * import { ConfigError } from "@tsk/runtime";
 * const e = new ConfigError("linux.intelRdt", "not supported by tsk-runtime");
 * console.log(e.message); // "linux.intelRdt: not supported by tsk-runtime"
 * ```
 */
export class ConfigError extends RuntimeError {
  /** The JSON path of the offending field. */
  readonly field: string;
  /**
   * Creates the error.
   * @param field JSON path of the field, e.g. `process.cwd`.
   * @param detail What is wrong with it.
   * @param options `cause` of the error.
   */
  constructor(field: string, detail: string, options?: ErrorOptions) {
    super(`${field}: ${detail}`, options);
    this.name = "ConfigError";
    this.field = field;
  }
}

/**
 * A system call that failed, with its errno.
 *
 * @example Inspect errno
 * ```ts
 * import { SyscallError } from "@tsk/runtime";
 * const e = new SyscallError("mount", 1, "/proc");
 * console.log(e.code); // "EPERM"
 * ```
 */
export class SyscallError extends RuntimeError {
  /** The system call's name. */
  readonly syscall: string;
  /** The errno value. */
  readonly errno: number;
  /** The errno's symbolic name, e.g. `EPERM`. */
  readonly code: string;
  /**
   * Creates the error.
   * @param syscall The system call's name.
   * @param errno The errno it failed with.
   * @param detail What it was called on.
   */
  constructor(syscall: string, errno: number, detail = "") {
    const code = errnoName(errno);
    super(`${syscall}${detail ? ` ${detail}` : ""}: ${code} (${errnoMessage(errno)})`);
    this.name = "SyscallError";
    this.syscall = syscall;
    this.errno = errno;
    this.code = code;
  }
}

/**
 * A container id that has no state under the runtime's root, or one that
 * already exists when creating.
 *
 * @example Tell a missing container apart
 * ```ts
 * import { ContainerNotFoundError } from "@tsk/runtime";
 * const e = new ContainerNotFoundError("web");
 * console.log(e.message); // "Container web: does not exist"
 * ```
 */
export class ContainerNotFoundError extends RuntimeError {
  /** The container id. */
  readonly id: string;
  /**
   * Creates the error.
   * @param id The container id.
   */
  constructor(id: string) {
    super(`Container ${id}: does not exist`);
    this.name = "ContainerNotFoundError";
    this.id = id;
  }
}

/**
 * An operation that the container's current status does not allow, such as
 * starting a running container or deleting one that runs without `force`.
 *
 * @example Refuse to start twice
 * ```ts
 * import { ContainerStateError } from "@tsk/runtime";
 * const e = new ContainerStateError("web", "cannot start: status is running");
 * console.log(e.message); // "Container web: cannot start: status is running"
 * ```
 */
export class ContainerStateError extends RuntimeError {
  /** The container id. */
  readonly id: string;
  /**
   * Creates the error.
   * @param id The container id.
   * @param detail What cannot be done and why.
   * @param options `cause` of the error.
   */
  constructor(id: string, detail: string, options?: ErrorOptions) {
    super(`Container ${id}: ${detail}`, options);
    this.name = "ContainerStateError";
    this.id = id;
  }
}

const ERRNO: Record<number, [string, string]> = {
  1: ["EPERM", "operation not permitted"],
  2: ["ENOENT", "no such file or directory"],
  3: ["ESRCH", "no such process"],
  4: ["EINTR", "interrupted system call"],
  5: ["EIO", "input/output error"],
  9: ["EBADF", "bad file descriptor"],
  10: ["ECHILD", "no child processes"],
  11: ["EAGAIN", "resource temporarily unavailable"],
  12: ["ENOMEM", "cannot allocate memory"],
  13: ["EACCES", "permission denied"],
  14: ["EFAULT", "bad address"],
  16: ["EBUSY", "device or resource busy"],
  17: ["EEXIST", "file exists"],
  18: ["EXDEV", "invalid cross-device link"],
  19: ["ENODEV", "no such device"],
  20: ["ENOTDIR", "not a directory"],
  21: ["EISDIR", "is a directory"],
  22: ["EINVAL", "invalid argument"],
  24: ["EMFILE", "too many open files"],
  26: ["ETXTBSY", "text file busy"],
  28: ["ENOSPC", "no space left on device"],
  30: ["EROFS", "read-only file system"],
  32: ["EPIPE", "broken pipe"],
  36: ["ENAMETOOLONG", "file name too long"],
  38: ["ENOSYS", "function not implemented"],
  40: ["ELOOP", "too many levels of symbolic links"],
  95: ["EOPNOTSUPP", "operation not supported"],
};

/**
 * The symbolic name of an errno value (`1` → `EPERM`).
 *
 * @param errno The errno value.
 * @returns Its name, or `errno N` when unknown.
 *
 * @example Name errno 13
 * ```ts
 * import { errnoName } from "@tsk/runtime";
 * console.log(errnoName(13)); // "EACCES"
 * ```
 */
export function errnoName(errno: number): string {
  return ERRNO[errno]?.[0] ?? `errno ${errno}`;
}

function errnoMessage(errno: number): string {
  return ERRNO[errno]?.[1] ?? "unknown error";
}
