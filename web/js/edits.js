// What-if edits on typed arrays, where Python would be slow: an edited run's tensors spread back to
// every token (the views read the full token layout), and patches replaced in the image's pixels
// before preprocessing. Which tokens and which pixels is decided in Python (web/py/edits.py,
// web/py/geometry.py); this only moves the numbers.
import * as ort from "../vendor/ort/ort.wasm.min.mjs";

// A tensor whose `axes` run over the kept tokens (`kept`, their indices among `total`) at the full
// token count: the tokens left out read 0 (absent: nothing attends to them, they hold nothing).
export function spreadTokens(tensor, axes, kept, total) {
  axes = Array.from(axes);
  kept = Array.from(kept);
  const dims = Array.from(tensor.dims);
  const full = dims.map((d, i) => (axes.includes(i) ? total : d));
  const out = new Float32Array(full.reduce((a, b) => a * b, 1));
  const data = tensor.data;
  const last = axes.at(-1);
  const inner = dims.slice(last + 1).reduce((a, b) => a * b, 1);  // contiguous values after the last token axis
  const outer = dims.slice(0, last + 1);
  const index = new Array(outer.length).fill(0);
  for (let start = 0; start < data.length; start += inner) {
    let target = 0;
    for (let a = 0; a < outer.length; a++) target = target * full[a] + (axes.includes(a) ? kept[index[a]] : index[a]);
    out.set(data.subarray(start, start + inner), target * inner);
    for (let a = outer.length - 1; a >= 0; a--) {  // the next index, row-major
      if (++index[a] < outer[a]) break;
      index[a] = 0;
    }
  }
  return new ort.Tensor("float32", out, full);
}

// The image's mean colour, over every pixel.
function meanColour(rgba) {
  const sums = [0, 0, 0];
  for (let i = 0; i < rgba.length; i += 4) {
    sums[0] += rgba[i];
    sums[1] += rgba[i + 1];
    sums[2] += rgba[i + 2];
  }
  const n = rgba.length / 4;
  return sums.map((s) => Math.round(s / n));
}

// A box blur of radius r at each pixel of `box` ([left, top, right, bottom]), from a summed-area table
// of the region around it, written into `out`.
function blurBox(source, out, width, height, [left, top, right, bottom], r) {
  const x0 = Math.max(0, left - r), y0 = Math.max(0, top - r);
  const x1 = Math.min(width, right + r), y1 = Math.min(height, bottom + r);
  const w = x1 - x0 + 1, h = y1 - y0 + 1;
  const table = new Float64Array(w * h * 3);  // table[y][x] = sum over [y0, y0 + y) x [x0, x0 + x)
  for (let y = 1; y < h; y++) {
    for (let x = 1; x < w; x++) {
      const p = 4 * ((y0 + y - 1) * width + (x0 + x - 1));
      for (let c = 0; c < 3; c++) {
        table[3 * (y * w + x) + c] = source[p + c] + table[3 * ((y - 1) * w + x) + c]
          + table[3 * (y * w + x - 1) + c] - table[3 * ((y - 1) * w + x - 1) + c];
      }
    }
  }
  for (let y = top; y < bottom; y++) {
    for (let x = left; x < right; x++) {
      const ax = Math.max(x0, x - r) - x0, bx = Math.min(x1, x + r + 1) - x0;
      const ay = Math.max(y0, y - r) - y0, by = Math.min(y1, y + r + 1) - y0;
      const n = (bx - ax) * (by - ay);
      for (let c = 0; c < 3; c++) {
        const sum = table[3 * (by * w + bx) + c] - table[3 * (ay * w + bx) + c] - table[3 * (by * w + ax) + c]
          + table[3 * (ay * w + ax) + c];
        out[4 * (y * width + x) + c] = Math.round(sum / n);
      }
    }
  }
}

// The image with its patches' pixels replaced. `boxes`: [left, top, right, bottom] in its pixels, one
// per patch; `fill`: "mean" (the image's mean colour), "blur" (a box blur as wide as a patch) or
// "sample" (the same patch of `sample`, an image like this one, whose boxes are `sampleBoxes`).
// Returns an image like `image` (rgba, width, height): the pass's input.
export function replacePatches(image, boxes, fill, sample, sampleBoxes) {
  const { width, height } = image;
  const source = image.rgba;
  const rgba = new Uint8Array(source);
  boxes = Array.from(boxes, (b) => Array.from(b));
  if (fill === "mean") {
    const colour = meanColour(source);
    for (const [left, top, right, bottom] of boxes) {
      for (let y = top; y < bottom; y++) {
        for (let x = left; x < right; x++) rgba.set(colour, 4 * (y * width + x));
      }
    }
  } else if (fill === "blur") {
    for (const box of boxes) blurBox(source, rgba, width, height, box, Math.max(1, Math.round((box[2] - box[0]) / 2)));
  } else {
    boxes.forEach(([left, top, right, bottom], i) => {
      const [sl, st, sr, sb] = Array.from(sampleBoxes[i]);
      for (let y = top; y < bottom; y++) {
        const sy = Math.min(sb - 1, st + Math.floor((y - top) * (sb - st) / (bottom - top)));
        for (let x = left; x < right; x++) {
          const sx = Math.min(sr - 1, sl + Math.floor((x - left) * (sr - sl) / (right - left)));
          const p = 4 * (sy * sample.width + sx);
          rgba.set(sample.rgba.subarray(p, p + 3), 4 * (y * width + x));
        }
      }
    });
  }
  return { width, height, rgba, reduced: image.reduced };
}

// A block part's head mask feed, (1, heads, 1, 1): `row` (1 keeps a head, 0 knocks it out) or every
// head. Every run of a block's part feeds it (the stage's `head_mask`); other parts get none.
export function headMask(stage, heads, row) {
  if (!stage.head_mask) return {};
  const values = row ? Float32Array.from(row) : new Float32Array(heads).fill(1);
  return { [stage.head_mask]: new ort.Tensor("float32", values, [1, heads, 1, 1]) };
}
