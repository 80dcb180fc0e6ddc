// The operation views (EL-VIT V-C), one module per operation, as Python calls them
// (vitlensJS.operations.open…): each animates one operation on the model's real tensors in a
// dialog (frame.js) with the shared player (player.js).
export { openPatchEmbedding } from "./patch_embedding.js";
export { openPositions } from "./positions.js";
export { openLayerNorm } from "./layernorm.js";
export { openAttention } from "./attention.js";
export { openGelu } from "./gelu.js";
