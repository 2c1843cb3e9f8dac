// commonroot portal: live proposal tallies and the in-browser check of a
// log entry's inclusion (RFC 6962 hashing with WebCrypto SHA-256). Every
// page works without this file; it only adds to them.
"use strict";
document.documentElement.classList.add("js");

function b64decode(s) {
  const bin = atob(s.trim());
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function b64encode(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// leafHash is RFC 6962's SHA-256(0x00 || entry).
async function leafHash(entry) {
  return sha256(concat(new Uint8Array([0]), entry));
}

// rootFromProof computes the root of the tree of size `size` from the
// leaf hash of entry `index` and its inclusion proof (RFC 9162, 2.1.3.2).
async function rootFromProof(index, size, leaf, proof) {
  if (index >= size) throw new Error("index " + index + " is not below the tree size " + size);
  let fn = index, sn = size - 1, r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new Error("the proof is longer than the tree is deep");
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(concat(new Uint8Array([1]), p, r));
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      }
    } else {
      r = await sha256(concat(new Uint8Array([1]), r, p));
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error("the proof is shorter than the tree is deep");
  return r;
}

async function fetchOK(url, what) {
  const resp = await fetch(url, { cache: "no-store" });
  if (!resp.ok) throw new Error(what + ": " + url + " answered " + resp.status);
  return resp;
}

// verifyEntry checks entry `index` against the latest signed checkpoint.
async function verifyEntry(index) {
  const cp = (await (await fetchOK("/checkpoint", "checkpoint")).text()).split("\n");
  const size = parseInt(cp[1], 10);
  const root = b64decode(cp[2]);
  if (!(size > index)) throw new Error("the latest signed checkpoint (size " + cp[1] + ") does not hold entry " + index + " yet; try again in a second");
  const entry = new Uint8Array(await (await fetchOK("/entry/" + index, "entry")).arrayBuffer());
  const proofText = await (await fetchOK("/proof/inclusion?index=" + index + "&size=" + size, "proof")).text();
  const proof = proofText.split("\n").filter(l => l !== "").map(b64decode);
  for (const p of proof) if (p.length !== 32) throw new Error("a proof line is not a 32-byte hash");
  const leaf = await leafHash(entry);
  const got = await rootFromProof(index, size, leaf, proof);
  if (!equal(got, root)) {
    throw new Error("the proof leads to root " + b64encode(got) + ", but the checkpoint of size " + size + " says " + b64encode(root));
  }
  return { size: size, root: b64encode(root), leaf: b64encode(leaf) };
}

function setupVerify() {
  const btn = document.getElementById("verify");
  const out = document.getElementById("verify-result");
  if (!btn || !out) return;
  btn.addEventListener("click", async () => {
    out.className = "";
    out.textContent = "Checking…";
    if (!window.crypto || !crypto.subtle) {
      out.className = "bad";
      out.textContent = "failed: this browser offers no WebCrypto here (it needs HTTPS or localhost); use the command below";
      return;
    }
    const index = parseInt(btn.dataset.index, 10);
    try {
      const r = await verifyEntry(index);
      out.className = "ok";
      out.textContent = "verified: entry " + index + " (leaf hash " + r.leaf + ") is in the log tree of size " + r.size + " whose root " + r.root + " the latest signed checkpoint states";
    } catch (e) {
      out.className = "bad";
      out.textContent = "failed: " + e.message;
    }
  });
}

// setupLive reloads an open proposal's page when its votes or status change.
function setupLive() {
  const live = document.getElementById("live");
  if (!live || live.dataset.status !== "open") return;
  const votes = parseInt(live.dataset.votes, 10);
  const tick = async () => {
    try {
      const resp = await fetch(live.dataset.url, { cache: "no-store" });
      if (resp.ok) {
        const p = await resp.json();
        if (p.votes.length !== votes || p.status !== live.dataset.status) {
          location.reload();
          return;
        }
      }
    } catch (e) {
      // the node is briefly unreachable: try again at the next tick
    }
    setTimeout(tick, 1500);
  };
  setTimeout(tick, 1500);
}

document.addEventListener("DOMContentLoaded", () => {
  setupVerify();
  setupLive();
});
