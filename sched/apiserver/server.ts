/**
 * Serves the API app over HTTPS with `node:https`, which (unlike
 * `Deno.listenTls`) can ask for client certificates: the verified
 * certificate's subject reaches the app as the caller's identity.
 *
 * @module
 */
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { once } from "node:events";
import { Buffer } from "node:buffer";
import type { ConnectionInfo } from "./app.ts";
import { SocketWire, watchAttachOf } from "./_watch_wire.ts";

/** Options of {@linkcode serveHttps}. */
export interface ServeHttpsOptions {
  /** The port; 0 picks a free one. @default 0 */
  port?: number;
  /** The address to listen on. @default "127.0.0.1" */
  hostname?: string;
  /** The serving certificate (PEM). */
  certPem: string;
  /** The serving key (PEM). */
  keyPem: string;
  /** The CA client certificates must chain to (PEM). */
  caPem: string;
  /**
   * `require` refuses, during the TLS handshake, any client without a
   * certificate from the CA; `optional` lets them in to try a bearer token.
   * @default "optional"
   */
  clientAuth?: "optional" | "require";
  /**
   * Called when a request other than a watch has been answered, with the
   * seconds from its headers being parsed to its answer being handed to the
   * socket (the whole path in this process, parsing and TLS included).
   * @default none
   */
  onAnswered?: (seconds: number) => void;
}

/** A running HTTPS server. */
export interface HttpsServer {
  /** The port it listens on. */
  port: number;
  /** `https://host:port`. */
  url: string;
  /** Stops accepting, ends open streams and waits for the listener to close. */
  close(): Promise<void>;
}

/** The largest request body accepted (as kube-apiserver's 3 MiB). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

type FetchHandler = (req: Request, env: ConnectionInfo) => Response | Promise<Response>;

// The verified certificate cannot change on a connection: parse it once per
// connection, not once per request (it was a tenth of the server's CPU).
const identities = new WeakMap<TLSSocket, ConnectionInfo["certificate"] | null>();

function identity(socket: TLSSocket): ConnectionInfo["certificate"] {
  let id = identities.get(socket);
  if (id === undefined) {
    id = peerIdentity(socket) ?? null;
    identities.set(socket, id);
  }
  return id ?? undefined;
}

function peerIdentity(socket: TLSSocket): ConnectionInfo["certificate"] {
  if (!socket.authorized) return undefined;
  const peer = socket.getPeerCertificate();
  const subject = peer?.subject as unknown as Record<string, string | string[]> | undefined;
  if (!subject?.CN) return undefined;
  const cn = Array.isArray(subject.CN) ? subject.CN[0] : subject.CN;
  const o = subject.O === undefined ? [] : Array.isArray(subject.O) ? subject.O : [subject.O];
  return { commonName: cn, organizations: o };
}

/**
 * Reads a request body with plain events (the async iterator it replaces
 * cost a few per cent of the server's CPU); undefined when it is too large.
 */
function readBody(req: IncomingMessage): Promise<Buffer[] | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        cleanup();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      reject(new Error("body: the client closed the connection"));
    };
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

/**
 * Serves a fetch handler over HTTPS with optional or required client
 * certificates.
 *
 * @param handler The app's `fetch`.
 * @param options Port, certificates, client authentication.
 * @returns The running server.
 *
 * @example Serve an app
 * ```ts ignore
 * import { createApiApp, serveHttps } from "@tsk/sched";
 * const server = await serveHttps(app.fetch, { certPem, keyPem, caPem });
 * console.log(server.url);
 * await server.close();
 * ```
 */
export async function serveHttps(
  handler: FetchHandler,
  options: ServeHttpsOptions,
): Promise<HttpsServer> {
  const open = new Set<ServerResponse>();
  // What ends each running watch (its connection closing, or the server).
  const watches = new Set<() => void>();
  const server = https.createServer({
    key: options.keyPem,
    cert: options.certPem,
    ca: [options.caPem],
    requestCert: true,
    rejectUnauthorized: options.clientAuth === "require",
  }, (req: IncomingMessage, res: ServerResponse) => {
    serve(req, res).catch((err) => {
      try {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(`internal error: ${String(err)}`);
      } catch { /* the connection is gone */ }
    });
  });
  server.keepAliveTimeout = 65_000;
  // Answers are one write each; never hold one back for an ACK (Nagle).
  server.on("secureConnection", (socket: TLSSocket) => socket.setNoDelay(true));

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const received = performance.now();
    const streaming = /[?&]watch=(true|1)(&|$)/.test(req.url ?? "");
    open.add(res);
    // Only a watch outlives its request. Once it runs, the function that ends
    // it is called when the client goes away: no signal on the request (an
    // AbortSignal per watcher, and the Request's own that follows it, stay
    // alive as long as the watch; a hook is enough).
    let closed = false;
    let stopWatch: (() => void) | undefined;
    const onWatchEnd = (stop: () => void) => {
      if (closed) return stop();
      stopWatch = stop;
      watches.add(stop);
    };
    res.on("close", () => {
      closed = true;
      open.delete(res);
      if (stopWatch) {
        watches.delete(stopWatch);
        stopWatch();
      }
    });
    const chunks = req.method !== "GET" && req.method !== "HEAD" ? await readBody(req) : [];
    if (chunks === undefined) {
      const body = JSON.stringify({
        apiVersion: "v1",
        kind: "Status",
        status: "Failure",
        message: `body: larger than ${MAX_BODY_BYTES} bytes; split the request`,
        reason: "RequestEntityTooLarge",
        code: 413,
      });
      res.writeHead(413, { "content-type": "application/json", connection: "close" });
      res.end(body);
      req.destroy();
      return;
    }
    const raw = req.rawHeaders;
    const pairs: [string, string][] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i], raw[i + 1]]);
    const url = `https://${req.headers.host ?? "localhost"}${req.url ?? "/"}`;
    const request = new Request(url, {
      method: req.method,
      headers: pairs,
      body: chunks.length === 1
        ? chunks[0] as Uint8Array<ArrayBuffer>
        : chunks.length > 1
        ? Buffer.concat(chunks) as Uint8Array<ArrayBuffer>
        : undefined,
    });
    const socket = req.socket as TLSSocket;
    const response = await handler(request, {
      certificate: identity(socket),
      remoteAddr: socket.remoteAddress,
    });
    const outHeaders: Record<string, string> = {};
    response.headers.forEach((v, k) => outHeaders[k] = v);
    if (!response.body || !streaming) {
      // A string body goes out with the headers in one write (a Buffer is a second one).
      const text = response.body ? await response.text() : "";
      outHeaders["content-length"] = String(Buffer.byteLength(text));
      res.writeHead(response.status, outHeaders);
      res.end(text);
      options.onAnswered?.((performance.now() - received) / 1000);
      return;
    }
    res.writeHead(response.status, outHeaders);
    res.flushHeaders();
    const attach = watchAttachOf(response);
    if (attach && !res.destroyed) {
      // The app's events, framed once, go straight to the TLS socket: no
      // stream reader, no per-write chunk framing (see _watch_wire.ts).
      // The body stream is left unread; it starts nothing until read.
      // Small events must not wait for the previous one's ACK (Nagle).
      socket.setNoDelay(true);
      const wire = new SocketWire(socket, res.chunkedEncoding, () => res.end());
      const stop = attach(wire);
      if (stop) return onWatchEnd(stop);
    }
    const reader = response.body.getReader();
    onWatchEnd(() => reader.cancel().catch(() => {}));
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!res.write(value)) await once(res, "drain");
      }
    } catch { /* the client went away */ }
    res.end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.hostname ?? "127.0.0.1", () => resolve());
  });
  const addr = server.address() as { port: number };
  const host = options.hostname ?? "127.0.0.1";
  return {
    port: addr.port,
    url: `https://${host.includes(":") ? `[${host}]` : host}:${addr.port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // End open watches cleanly first, so clients see the stream end rather than break.
      for (const stop of [...watches]) stop();
      watches.clear();
      const deadline = Date.now() + 1000;
      while (open.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const res of open) res.destroy();
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await closed;
    },
  };
}
