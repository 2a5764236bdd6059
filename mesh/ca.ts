/**
 * The cluster certificate authority: an ECDSA P-256 root made with
 * `@peculiar/x509` on WebCrypto, which issues the API server's serving
 * certificate, client certificates for users and nodes (CN is the user,
 * O the groups, as in Kubernetes) and, later, the mesh's workload
 * certificates.
 *
 * @module
 */
// @peculiar/x509 resolves its ASN.1 codecs through tsyringe, which needs this polyfill.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(crypto);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** Errors of the certificate authority. */
export class CaError extends Error {
  /** Creates the error. @param message What failed and why. @param options The cause. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CaError";
  }
}

/** A certificate and its private key, both PEM. */
export interface KeyPairPem {
  /** The certificate (PEM). */
  certPem: string;
  /** The PKCS#8 private key (PEM). */
  keyPem: string;
}

/** Options of {@linkcode CertificateAuthority.create}. */
export interface CreateCaOptions {
  /** The CA's common name. @default "tsk-ca" */
  commonName?: string;
  /** Days of validity. @default 3650 */
  days?: number;
}

/** Options of {@linkcode CertificateAuthority.issue}. */
export interface IssueOptions {
  /** Organizations (groups), e.g. `["system:masters"]`. @default [] */
  organizations?: string[];
  /** DNS names for a serving certificate. @default [] */
  dnsNames?: string[];
  /** IP addresses for a serving certificate. @default [] */
  ipAddresses?: string[];
  /** What the certificate may do. @default "client" */
  usage?: "server" | "client" | "both";
  /** Days of validity. @default 365 */
  days?: number;
}

function pemKey(der: ArrayBuffer): string {
  const b64 = btoa(String.fromCharCode(...new Uint8Array(der)));
  return `-----BEGIN PRIVATE KEY-----\n${
    b64.match(/.{1,64}/g)!.join("\n")
  }\n-----END PRIVATE KEY-----\n`;
}

function derOf(pem: string, label: string): Uint8Array<ArrayBuffer> {
  const m = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(pem);
  if (!m) throw new CaError(`key: expected a PEM block of type ${label}`);
  const bin = atob(m[1].replace(/\s+/g, ""));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function escapeDn(v: string): string {
  return v.replace(/([,+"\\<>;=])/g, "\\$1");
}

function serial(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] &= 0x7f;
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * A certificate authority that holds its key in memory.
 *
 * @example Create a CA and issue a client certificate
 * ```ts
 * import { CertificateAuthority } from "@tsk/mesh";
 * const ca = await CertificateAuthority.create();
 * const admin = await ca.issue("admin", { organizations: ["system:masters"] });
 * console.log(admin.certPem.startsWith("-----BEGIN CERTIFICATE-----")); // true
 * ```
 */
export class CertificateAuthority {
  /** The CA certificate (PEM); clients trust it. */
  readonly certPem: string;
  /** The CA private key (PEM); keep it secret. */
  readonly keyPem: string;
  #cert: x509.X509Certificate;
  #key: CryptoKey;

  private constructor(cert: x509.X509Certificate, key: CryptoKey, certPem: string, keyPem: string) {
    this.#cert = cert;
    this.#key = key;
    this.certPem = certPem;
    this.keyPem = keyPem;
  }

  /**
   * Creates a new self-signed CA.
   * @param options Name and validity.
   * @returns The CA.
   */
  static async create(options: CreateCaOptions = {}): Promise<CertificateAuthority> {
    const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]) as CryptoKeyPair;
    const now = new Date();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=${escapeDn(options.commonName ?? "tsk-ca")}`,
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + (options.days ?? 3650) * 86400_000),
      signingAlgorithm: ALG,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const keyPem = pemKey(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
    return new CertificateAuthority(cert, keys.privateKey, cert.toString("pem") + "\n", keyPem);
  }

  /**
   * Loads a CA from its PEM certificate and key.
   * @param certPem The CA certificate.
   * @param keyPem The CA's PKCS#8 key.
   * @returns The CA.
   * @throws {CaError} When either does not parse or they do not match.
   */
  static async load(certPem: string, keyPem: string): Promise<CertificateAuthority> {
    let cert: x509.X509Certificate;
    let key: CryptoKey;
    try {
      cert = new x509.X509Certificate(certPem);
      key = await crypto.subtle.importKey("pkcs8", derOf(keyPem, "PRIVATE KEY"), ALG, true, [
        "sign",
      ]);
    } catch (err) {
      if (err instanceof CaError) throw err;
      throw new CaError(`ca: cannot load the CA certificate and key: ${String(err)}`, {
        cause: err,
      });
    }
    const ca = new CertificateAuthority(cert, key, certPem, keyPem);
    const probe = await ca.issue("probe", { days: 1 });
    if (
      !(await new x509.X509Certificate(probe.certPem).verify({
        publicKey: cert.publicKey,
        signatureOnly: true,
      }))
    ) {
      throw new CaError("ca: the key does not belong to the certificate");
    }
    return ca;
  }

  /**
   * Issues a certificate with a new key pair.
   * @param commonName The subject CN (the user name for client certificates).
   * @param options Groups, names, usage, validity.
   * @returns The certificate and key.
   */
  async issue(commonName: string, options: IssueOptions = {}): Promise<KeyPairPem> {
    if (!commonName) throw new CaError("commonName: required");
    const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]) as CryptoKeyPair;
    const usage = options.usage ?? "client";
    const ekus: string[] = [];
    if (usage !== "client") ekus.push(x509.ExtendedKeyUsage.serverAuth);
    if (usage !== "server") ekus.push(x509.ExtendedKeyUsage.clientAuth);
    const subject = [
      `CN=${escapeDn(commonName)}`,
      ...(options.organizations ?? []).map((o) => `O=${escapeDn(o)}`),
    ].join(", ");
    const sans: x509.JsonGeneralName[] = [
      ...(options.dnsNames ?? []).map((v) => ({ type: "dns" as const, value: v })),
      ...(options.ipAddresses ?? []).map((v) => ({ type: "ip" as const, value: v })),
    ];
    const now = new Date();
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension(ekus),
      await x509.AuthorityKeyIdentifierExtension.create(this.#cert),
    ];
    if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject,
      issuer: this.#cert.subject,
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + (options.days ?? 365) * 86400_000),
      signingAlgorithm: ALG,
      publicKey: keys.publicKey,
      signingKey: this.#key,
      extensions,
    });
    return {
      certPem: cert.toString("pem") + "\n",
      keyPem: pemKey(await crypto.subtle.exportKey("pkcs8", keys.privateKey)),
    };
  }
}

/** The identity a client certificate carries. */
export interface CertificateIdentity {
  /** The subject CN. */
  commonName: string;
  /** The subject O values. */
  organizations: string[];
}

/**
 * Reads the CN and O values of a certificate's subject.
 *
 * @param certPem The certificate (PEM).
 * @returns The identity.
 *
 * @example Read an issued certificate's identity
 * ```ts
 * import { CertificateAuthority, certificateIdentity } from "@tsk/mesh";
 * const ca = await CertificateAuthority.create();
 * const c = await ca.issue("node-1", { organizations: ["system:nodes"] });
 * console.log(certificateIdentity(c.certPem)); // { commonName: "node-1", organizations: ["system:nodes"] }
 * ```
 */
export function certificateIdentity(certPem: string): CertificateIdentity {
  const cert = new x509.X509Certificate(certPem);
  const name = new x509.Name(cert.subject);
  return {
    commonName: name.getField("CN")[0] ?? "",
    organizations: name.getField("O"),
  };
}
