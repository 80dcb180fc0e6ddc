// A model file's sha256 against the one its manifest lists: the same check for a deployed model
// (boot.js) and for one opened from the user's disk (local_model.js). crypto.subtle exists only in
// secure contexts; elsewhere onnxruntime-web's own parse error is what the page reports.
export async function checkDigest(buffer, file, sha256) {
  if (!sha256 || !self.crypto?.subtle) return buffer;
  if (await sha256Hex(buffer) !== sha256) {
    throw new Error(`${file} is damaged: its sha256 is not the one manifest.json lists; export the model again`);
  }
  return buffer;
}

// The hex sha256 of some bytes, as the export step and the build write it.
export async function sha256Hex(bytes) {
  return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)),
                    (b) => b.toString(16).padStart(2, "0")).join("");
}
