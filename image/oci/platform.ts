/**
 * Platforms (`linux/amd64`, `linux/arm64/v8`): parsing, matching, the host's own.
 *
 * @module
 */
import { ValidationError } from "../errors.ts";
import { nonEmpty, object, optString, optStrings } from "./_check.ts";

/** The platform an image runs on, as in an index entry or an image config. */
export interface Platform {
  /** CPU architecture in Go's names: `amd64`, `arm64`, `arm`, `386`, `ppc64le`, `s390x`, ... */
  architecture: string;
  /** Operating system in Go's names: `linux`, `windows`, ... */
  os: string;
  /** OS version (Windows). */
  "os.version"?: string;
  /** Required OS features (Windows). */
  "os.features"?: string[];
  /** CPU variant: `v7` for arm, `v8` for arm64, ... */
  variant?: string;
}

/**
 * Parses `os/arch[/variant]`, e.g. `linux/arm64/v8`.
 *
 * @param text The platform string.
 * @returns The platform.
 * @throws {ValidationError} On anything but two or three non-empty parts.
 *
 * @example Parse a platform
 * ```ts
 * import { parsePlatform } from "@tsk/image";
 * console.log(parsePlatform("linux/arm64/v8").variant); // "v8"
 * ```
 */
export function parsePlatform(text: string): Platform {
  const parts = text.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === "")) {
    throw new ValidationError(
      "platform",
      `expected os/arch[/variant] such as linux/amd64, got ${JSON.stringify(text)}`,
    );
  }
  const [os, architecture, variant] = parts;
  return variant ? { os, architecture, variant } : { os, architecture };
}

/**
 * Formats a platform as `os/arch[/variant]`.
 *
 * @param platform The platform.
 * @returns The string form.
 *
 * @example Format a platform
 * ```ts
 * import { formatPlatform } from "@tsk/image";
 * console.log(formatPlatform({ os: "linux", architecture: "amd64" })); // "linux/amd64"
 * ```
 */
export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/");
}

/**
 * Checks a platform object from a JSON document.
 *
 * @param value The value from the document.
 * @param field Its path, named in errors.
 * @returns The platform.
 * @throws {ValidationError} When `os` or `architecture` is missing or not a string.
 *
 * @example Check an index entry's platform
 * ```ts
 * import { validatePlatform } from "@tsk/image";
 * validatePlatform({ os: "linux", architecture: "amd64" }, "manifests[0].platform");
 * ```
 */
export function validatePlatform(value: unknown, field: string): Platform {
  const o = object(value, field);
  nonEmpty(o.architecture, `${field}.architecture`);
  nonEmpty(o.os, `${field}.os`);
  optString(o["os.version"], `${field}["os.version"]`);
  optStrings(o["os.features"], `${field}["os.features"]`);
  optString(o.variant, `${field}.variant`);
  return o as unknown as Platform;
}

const GO_ARCH: Record<string, string> = {
  "x86_64": "amd64",
  aarch64: "arm64",
  arm: "arm",
  i386: "386",
  i686: "386",
  ppc64le: "ppc64le",
  s390x: "s390x",
  riscv64: "riscv64",
};

/**
 * Returns the platform of the machine running this code.
 *
 * @returns `linux/<arch>` in Go's architecture names (`arm64` gets variant `v8`).
 *
 * @example The host platform
 * ```ts
 * import { formatPlatform, hostPlatform } from "@tsk/image";
 * console.log(formatPlatform(hostPlatform())); // e.g. "linux/amd64"
 * ```
 */
export function hostPlatform(): Platform {
  const architecture = GO_ARCH[Deno.build.arch] ?? Deno.build.arch;
  const os = Deno.build.os === "darwin" ? "darwin" : Deno.build.os;
  return architecture === "arm64" ? { os, architecture, variant: "v8" } : { os, architecture };
}

/**
 * Returns whether a candidate platform satisfies a wanted one. A wanted
 * variant must match exactly; when the wanted platform names none, any
 * variant does (arm64's `v8` is the default and matches a missing one).
 *
 * @param wanted The platform asked for.
 * @param candidate The platform an index entry declares.
 * @returns Whether the candidate can be used.
 *
 * @example Match an index entry
 * ```ts
 * import { platformMatches } from "@tsk/image";
 * console.log(platformMatches({ os: "linux", architecture: "amd64" }, {
 *   os: "linux",
 *   architecture: "amd64",
 * })); // true
 * ```
 */
export function platformMatches(wanted: Platform, candidate: Platform | undefined): boolean {
  if (!candidate) return false;
  if (wanted.os !== candidate.os || wanted.architecture !== candidate.architecture) return false;
  if (!wanted.variant) return true;
  const norm = (p: Platform) =>
    p.variant ?? (p.architecture === "arm64" ? "v8" : p.architecture === "arm" ? "v7" : "");
  return norm(wanted) === norm(candidate);
}
