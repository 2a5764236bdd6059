/**
 * A client for the OCI distribution API: manifests, blobs, uploads
 * (monolithic, chunked, cross-repository mount), auth, and redirects that
 * never carry credentials to another host.
 *
 * @module
 */
import { RegistryError, ValidationError } from "../errors.ts";
import { type Digest, DigestVerifier, parseDigest, verifyingStream } from "../oci/digest.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import { MANIFEST_ACCEPT } from "../oci/media_types.ts";
import { Authenticator, type Credentials, parseChallenge } from "./auth.ts";

/** Options for {@linkcode RegistryClient}. */
export interface RegistryClientOptions {
  /**
   * Credentials for this registry.
   * @default undefined (anonymous)
   */
  credentials?: Credentials;
  /**
   * Talk plain HTTP instead of HTTPS.
   * @default true for loopback hosts (localhost, 127.0.0.0/8, [::1]), else false
   */
  plainHttp?: boolean;
  /**
   * The fetch to use (tests inject one to count requests).
   * @default globalThis.fetch
   */
  fetch?: typeof fetch;
  /**
   * The `User-Agent` sent.
   * @default "tsk/0.1.0"
   */
  userAgent?: string;
}

/** Options for {@linkcode RegistryClient.pushBlob}. */
export interface PushBlobOptions {
  /**
   * Try a cross-repository mount from this repository on the same registry first.
   * @default undefined
   */
  mountFrom?: string;
  /**
   * Upload in chunks of this many bytes (PATCH with Content-Range) instead of one PUT.
   * @default undefined (monolithic)
   */
  chunkSize?: number;
  /**
   * Called with the running byte count.
   * @default undefined
   */
  onProgress?: (bytes: number) => void;
}

/** How a blob reached the registry. */
export type PushBlobResult = "exists" | "mounted" | "uploaded";

interface RequestOptions {
  scope: string;
  headers?: Record<string, string>;
  body?: () => BodyInit | null;
  /** Statuses that are not errors (besides 2xx). */
  allow?: number[];
}

const MAX_MANIFEST = 4 << 20;

function isLoopback(host: string): boolean {
  const h = new URL(`http://${host}`).hostname;
  return h === "localhost" || h === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * A client for one registry host.
 *
 * @example Read a manifest
 * ```ts ignore
 * import { RegistryClient } from "@tsk/image";
 * const client = new RegistryClient("127.0.0.1:5000");
 * const { digest } = await client.getManifest("team/app", "1.0");
 * ```
 */
export class RegistryClient {
  /** The registry's `host[:port]`. */
  readonly host: string;
  /** `http://host` or `https://host`. */
  readonly origin: string;
  readonly #auth: Authenticator;
  readonly #fetch: typeof fetch;
  readonly #ua: string;

  /**
   * Creates a client.
   *
   * @param host The registry's `host[:port]`.
   * @param options Credentials, plain HTTP, fetch.
   */
  constructor(host: string, options: RegistryClientOptions = {}) {
    this.host = host;
    const plain = options.plainHttp ?? isLoopback(host);
    this.origin = `${plain ? "http" : "https"}://${host}`;
    this.#fetch = options.fetch ?? fetch;
    this.#auth = new Authenticator(host, { credentials: options.credentials, fetch: this.#fetch });
    this.#ua = options.userAgent ?? "tsk/0.1.0";
  }

  async #send(url: URL, method: string, opts: RequestOptions): Promise<Response> {
    // Follow redirects by hand: Authorization goes only to the registry's own origin.
    let current = url;
    let m = method;
    let body = opts.body;
    for (let hop = 0; hop < 6; hop++) {
      const headers: Record<string, string> = { "user-agent": this.#ua, ...opts.headers };
      if (current.origin === this.origin) {
        const auth = this.#auth.header(opts.scope);
        if (auth) headers.authorization = auth;
      }
      const res = await this.#fetch(current, {
        method: m,
        headers,
        body: body?.() ?? null,
        redirect: "manual",
      }).catch((err) => {
        throw new RegistryError(
          `Cannot reach ${current.origin}: ${(err as Error).message}`,
          undefined,
          undefined,
          {
            cause: err,
          },
        );
      });
      if ([301, 302, 303, 307, 308].includes(res.status) && res.headers.get("location")) {
        await res.body?.cancel();
        current = new URL(res.headers.get("location")!, current);
        if (res.status === 303 || ((res.status === 301 || res.status === 302) && m === "POST")) {
          m = "GET";
          body = undefined;
        }
        continue;
      }
      return res;
    }
    throw new RegistryError(`Too many redirects from ${url}`);
  }

  async #request(method: string, path: string, opts: RequestOptions): Promise<Response> {
    const url = new URL(path, this.origin);
    let res = await this.#send(url, method, opts);
    if (res.status === 401) {
      const challenge = parseChallenge(res.headers.get("www-authenticate"));
      await res.body?.cancel();
      if (!challenge) {
        throw new RegistryError(
          `${method} ${url}: HTTP 401 without a challenge`,
          401,
          "UNAUTHORIZED",
        );
      }
      await this.#auth.answer(challenge, opts.scope);
      res = await this.#send(url, method, opts);
    }
    if (res.ok || opts.allow?.includes(res.status)) return res;
    let code: string | undefined;
    let detail = "";
    try {
      const j = await res.json() as { errors?: { code?: string; message?: string }[] };
      code = j.errors?.[0]?.code;
      detail = j.errors?.map((e) => `${e.code}: ${e.message}`).join("; ") ?? "";
    } catch { /* not JSON */ }
    throw new RegistryError(
      `${method} ${url.pathname}${url.search} on ${this.host}: HTTP ${res.status}${
        detail ? ` (${detail})` : ""
      }`,
      res.status,
      code,
    );
  }

  /**
   * Checks that the registry speaks the v2 API (and that we can authenticate).
   *
   * @returns Nothing; throws when it does not.
   */
  async ping(): Promise<void> {
    const res = await this.#request("GET", "/v2/", { scope: "registry:catalog:*", allow: [] });
    await res.body?.cancel();
  }

  /**
   * Fetches a manifest or index, verifying its digest.
   *
   * @param repository The repository (`team/app`).
   * @param reference A tag or a digest.
   * @returns The bytes, the media type and the digest.
   * @throws {DigestMismatchError} When the bytes do not match the digest asked for or announced.
   */
  async getManifest(
    repository: string,
    reference: string,
  ): Promise<{ bytes: Uint8Array; mediaType: string; digest: Digest }> {
    const res = await this.#request("GET", `/v2/${repository}/manifests/${reference}`, {
      scope: `repository:${repository}:pull`,
      headers: { accept: MANIFEST_ACCEPT },
    });
    const len = Number(res.headers.get("content-length") ?? 0);
    if (len > MAX_MANIFEST) {
      await res.body?.cancel();
      throw new RegistryError(`Manifest ${repository}:${reference} is too large: ${len} bytes`);
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.length > MAX_MANIFEST) {
      throw new RegistryError(`Manifest ${repository}:${reference} is too large`);
    }
    const announced = res.headers.get("docker-content-digest");
    const wanted = reference.includes(":")
      ? reference
      : announced && /^sha256:/.test(announced)
      ? announced
      : undefined;
    const v = new DigestVerifier(wanted ?? undefined);
    v.update(bytes);
    const digest = v.verify();
    const mediaType = (res.headers.get("content-type") ?? "").split(";")[0].trim();
    return { bytes, mediaType, digest };
  }

  /**
   * Uploads a manifest or index.
   *
   * @param repository The repository.
   * @param reference A tag, or the manifest's digest.
   * @param bytes The manifest's bytes (pushed exactly as given).
   * @param mediaType Its media type.
   * @returns The digest.
   */
  async putManifest(
    repository: string,
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
  ): Promise<Digest> {
    const v = new DigestVerifier(reference.includes(":") ? reference : undefined);
    v.update(bytes);
    const digest = v.verify();
    const res = await this.#request("PUT", `/v2/${repository}/manifests/${reference}`, {
      scope: `repository:${repository}:pull,push`,
      headers: { "content-type": mediaType },
      body: () => bytes as BodyInit,
    });
    await res.body?.cancel();
    const echoed = res.headers.get("docker-content-digest");
    if (echoed && echoed !== digest) {
      throw new RegistryError(`Registry stored manifest as ${echoed}, expected ${digest}`);
    }
    return digest;
  }

  /**
   * Asks whether a blob exists.
   *
   * @param repository The repository.
   * @param digest The blob's digest.
   * @returns Its size, or undefined when absent.
   */
  async statBlob(repository: string, digest: string): Promise<number | undefined> {
    parseDigest(digest);
    const res = await this.#request("HEAD", `/v2/${repository}/blobs/${digest}`, {
      scope: `repository:${repository}:pull`,
      allow: [404],
    });
    await res.body?.cancel();
    return res.status === 404 ? undefined : Number(res.headers.get("content-length") ?? 0);
  }

  /**
   * Downloads a blob as a stream that errors at its end when a byte is wrong
   * (digest or length).
   *
   * @param repository The repository.
   * @param descriptor The blob's descriptor (digest and size).
   * @param options `verify: false` when the consumer checks digest and size
   * itself (as `ContentStore.put` with `expected` does), to hash once.
   * Default: verify.
   * @returns The (verified) byte stream.
   */
  async fetchBlob(
    repository: string,
    descriptor: Descriptor,
    options: { verify?: boolean } = {},
  ): Promise<ReadableStream<Uint8Array>> {
    parseDigest(descriptor.digest, "digest");
    const res = await this.#request("GET", `/v2/${repository}/blobs/${descriptor.digest}`, {
      scope: `repository:${repository}:pull`,
    });
    if (!res.body) throw new RegistryError(`Blob ${descriptor.digest}: empty response`);
    if (options.verify === false) return res.body;
    return res.body.pipeThrough(verifyingStream(descriptor.digest, descriptor.size).stream);
  }

  /**
   * Uploads a blob unless the registry has it: tries a cross-repository
   * mount first when asked, then uploads monolithically or in chunks.
   *
   * @param repository The repository.
   * @param descriptor The blob's digest and size.
   * @param open Opens the content (called once, only when an upload is needed).
   * @param options Mount source, chunk size, progress.
   * @returns Whether it existed, was mounted or was uploaded.
   */
  async pushBlob(
    repository: string,
    descriptor: Descriptor,
    open: () => Promise<ReadableStream<Uint8Array>>,
    options: PushBlobOptions = {},
  ): Promise<PushBlobResult> {
    const { digest, size } = descriptor;
    parseDigest(digest, "digest");
    if ((await this.statBlob(repository, digest)) !== undefined) return "exists";
    const scope = `repository:${repository}:pull,push`;
    let start: Response;
    if (options.mountFrom && options.mountFrom !== repository) {
      const q = new URLSearchParams({ mount: digest, from: options.mountFrom });
      start = await this.#request("POST", `/v2/${repository}/blobs/uploads/?${q}`, {
        scope: `${scope} repository:${options.mountFrom}:pull`,
        allow: [201, 202],
      });
      await start.body?.cancel();
      if (start.status === 201) return "mounted";
    } else {
      start = await this.#request("POST", `/v2/${repository}/blobs/uploads/`, { scope });
      await start.body?.cancel();
    }
    let location = start.headers.get("location");
    if (!location) throw new RegistryError(`Upload of ${digest}: registry gave no Location`);
    const stream = await open();
    const counted = stream.pipeThrough(verifyingStream(digest, size).stream);
    if (!options.chunkSize) {
      let sent = 0;
      const progress = counted.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(c, ctl) {
            sent += c.length;
            options.onProgress?.(sent);
            ctl.enqueue(c);
          },
        }),
      );
      const url = new URL(location, this.origin);
      url.searchParams.set("digest", digest);
      const res = await this.#request("PUT", url.pathname + url.search, {
        scope,
        // A length, not chunked encoding: the registry knows the size up front.
        headers: { "content-type": "application/octet-stream", "content-length": String(size) },
        body: () => progress,
        allow: [201],
      });
      await res.body?.cancel();
      return "uploaded";
    }
    if (options.chunkSize < 1) {
      throw new ValidationError("chunkSize", "expected a positive number of bytes");
    }
    let offset = 0;
    const reader = counted.getReader();
    let pending: Uint8Array[] = [];
    let pendingLen = 0;
    const flush = async () => {
      const chunk = new Uint8Array(pendingLen);
      let o = 0;
      for (const p of pending) {
        chunk.set(p, o);
        o += p.length;
      }
      pending = [];
      pendingLen = 0;
      const url = new URL(location!, this.origin);
      const res = await this.#request("PATCH", url.pathname + url.search, {
        scope,
        headers: {
          "content-type": "application/octet-stream",
          "content-range": `${offset}-${offset + chunk.length - 1}`,
          "content-length": String(chunk.length),
        },
        body: () => chunk,
        allow: [202],
      });
      await res.body?.cancel();
      offset += chunk.length;
      options.onProgress?.(offset);
      location = res.headers.get("location") ?? location;
    };
    while (true) {
      const r = await reader.read();
      if (r.done) break;
      pending.push(r.value);
      pendingLen += r.value.length;
      if (pendingLen >= options.chunkSize) await flush();
    }
    if (pendingLen > 0) await flush();
    const url = new URL(location, this.origin);
    url.searchParams.set("digest", digest);
    const res = await this.#request("PUT", url.pathname + url.search, { scope, allow: [201] });
    await res.body?.cancel();
    return "uploaded";
  }

  /**
   * Lists a repository's tags.
   *
   * @param repository The repository.
   * @returns The tags.
   */
  async tags(repository: string): Promise<string[]> {
    const res = await this.#request("GET", `/v2/${repository}/tags/list`, {
      scope: `repository:${repository}:pull`,
    });
    const j = await res.json() as { tags?: string[] | null };
    return j.tags ?? [];
  }
}
