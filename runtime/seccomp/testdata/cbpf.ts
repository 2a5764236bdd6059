// Test-only: a general classic-BPF interpreter for seccomp programs (ours and
// libseccomp's), used to compare the decisions of two filters on made-up
// seccomp_data, which the kernel cannot be asked to do.

/** The fields of struct seccomp_data a test sets. */
export interface SeccompData {
  nr: number;
  arch: number;
  args?: (number | bigint)[];
}

/** Runs a seccomp program and returns its 32-bit verdict. */
export function runClassicBpf(prog: Uint8Array, d: SeccompData): number {
  const view = new DataView(prog.buffer, prog.byteOffset, prog.byteLength);
  const n = prog.byteLength / 8;
  const data = new DataView(new ArrayBuffer(64));
  data.setUint32(0, d.nr >>> 0, true);
  data.setUint32(4, d.arch >>> 0, true);
  (d.args ?? []).forEach((a, i) =>
    data.setBigUint64(16 + 8 * i, BigInt(a) & ((1n << 64n) - 1n), true)
  );
  const mem = new Uint32Array(16);
  let A = 0;
  let X = 0;
  let pc = 0;
  for (let steps = 0; steps < 1_000_000; steps++) {
    if (pc >= n) throw new Error(`fell off the end at ${pc}`);
    const o = pc * 8;
    const code = view.getUint16(o, true);
    const jt = view.getUint8(o + 2);
    const jf = view.getUint8(o + 3);
    const k = view.getUint32(o + 4, true);
    pc++;
    const cls = code & 0x07;
    switch (cls) {
      case 0x00: // LD
        if (code === 0x20) A = data.getUint32(k, true);
        else if (code === 0x00) A = k; // LD IMM
        else if (code === 0x60) A = mem[k];
        else throw new Error(`unsupported load 0x${code.toString(16)}`);
        break;
      case 0x01: // LDX
        if (code === 0x01) X = k;
        else if (code === 0x61) X = mem[k];
        else throw new Error(`unsupported ldx 0x${code.toString(16)}`);
        break;
      case 0x02: // ST
        mem[k] = A;
        break;
      case 0x03: // STX
        mem[k] = X;
        break;
      case 0x04: { // ALU
        const src = code & 0x08 ? X : k;
        switch (code & 0xf0) {
          case 0x00:
            A = (A + src) >>> 0;
            break;
          case 0x10:
            A = (A - src) >>> 0;
            break;
          case 0x40:
            A = (A | src) >>> 0;
            break;
          case 0x50:
            A = (A & src) >>> 0;
            break;
          case 0x60:
            A = (A << src) >>> 0;
            break;
          case 0x70:
            A = A >>> src;
            break;
          case 0x80:
            A = (-A) >>> 0;
            break;
          case 0xa0:
            A = (A ^ src) >>> 0;
            break;
          default:
            throw new Error(`unsupported alu 0x${code.toString(16)}`);
        }
        break;
      }
      case 0x05: { // JMP
        const src = code & 0x08 ? X : k;
        const op = code & 0xf0;
        if (op === 0x00) {
          pc += k;
          break;
        }
        let cond: boolean;
        if (op === 0x10) cond = A === src;
        else if (op === 0x20) cond = A > src;
        else if (op === 0x30) cond = A >= src;
        else if (op === 0x40) cond = (A & src) !== 0;
        else throw new Error(`unsupported jump 0x${code.toString(16)}`);
        pc += cond ? jt : jf;
        break;
      }
      case 0x06: // RET
        return (code & 0x18) === 0x10 ? A : k;
      case 0x07: // MISC
        if (code === 0x07) X = A;
        else if (code === 0x87) A = X;
        else throw new Error(`unsupported misc 0x${code.toString(16)}`);
        break;
    }
  }
  throw new Error("no return");
}
