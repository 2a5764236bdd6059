// The byte-count callback a pull or push hands to a transfer, as progress events.
import type { Descriptor } from "../oci/descriptor.ts";
import type { TransferProgress } from "./progress.ts";

export function transferring(
  onProgress: ((p: TransferProgress) => void) | undefined,
  d: Descriptor,
): (bytes: number) => void {
  return (current) =>
    onProgress?.({ digest: d.digest, status: "transferring", current, total: d.size });
}
