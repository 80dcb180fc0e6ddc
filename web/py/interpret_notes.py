"""What each Interpretation map shows, what it does not, and where it comes from: the view's words.

Standard library only; kept apart from the view so that the wording reads as one text.
"""
NAMES = {  # a map's name in its text alternative
    "similarity": "Cosine similarity to the token",
    "attention": "Attention of the token",
    "rollout": "Attention rollout of the token",
    "relevance": "Class relevance",
    "lens": "Logit lens, each patch's class",
    "norms": "Token norms",
}

MEANINGS = {
    "similarity": ("Cosine similarity between the chosen token and every patch token at this block (the paper's "
                   "Interpretation View): where the model's representation of the token resembles the patches'."),
    "attention": ("The chosen token's attention weights (softmax of its scores) over the patches in this block, "
                  "for one head or the heads fused: where it reads from in this block alone."),
    "rollout": ("Attention rollout (Abnar & Zuidema 2020): the attention of blocks 1..this one multiplied, each "
                "with the residual connection added (A+I)/2 and rows renormalised; heads fused as chosen. An "
                "estimate of which input patches flow into the chosen token."),
    "relevance": ("Class relevance (Chefer, Gur & Wolf 2021): which patches the chosen class's score rests on. "
                  "Each block's attention is weighted by the gradient of the class's logit (or of the difference "
                  "of two logits), its positive part averaged over heads, and the blocks are chained with the "
                  "residual connection. The map is CLS's row, for every family."),
    "lens": ("Logit lens: every patch token at this block put through the final LayerNorm and the head in CLS's "
             "place; the colour is the class it would predict, the opacity its probability."),
    "norms": ("The L2 norm of every patch token at this block: ViTs grow a few high-norm outlier tokens that "
              "often sit on background patches."),
}

ABOUT = {
    "similarity": ("Shows: how alike the token's and each patch's representations are at this block. Does not "
                   "show: what the model attends to or what its decision rests on; patches can be alike by "
                   "position or colour alone. Reference: Zhou et al., EL-VIT (2024), the Interpretation View."),
    "attention": ("Shows: the weights one block's attention gives each patch when it updates the token. Does not "
                  "show: what the values carry, the residual stream, or later blocks; attention weights are not "
                  "an explanation of the decision (Jain & Wallace 2019). Reference: Vaswani et al. (2017); "
                  "Dosovitskiy et al. (2021) for ViTs."),
    "rollout": ("Shows: how much of each input patch can reach the token through the attention of blocks 1 to "
                "this one, the residual connection counted. Does not show: which class the patches speak for; it "
                "is the same map for every class, and it assumes tokens mix linearly. Reference: Abnar & Zuidema, "
                "Quantifying Attention Flow in Transformers (ACL 2020)."),
    "relevance": ("Shows: where the evidence for the chosen class lies, or for one class over another ('A versus "
                  "B'), by attention weighted with the gradient of the class score; the small maps show where it "
                  "forms, block by block (each block's gradient-weighted attention, CLS's row). Does not show: "
                  "evidence against the class (negative parts are cut off) or what the MLPs add except through "
                  "the gradients; for DINOv2, whose head also reads the patch mean, that half is seen only "
                  "through its gradients. Reference: Chefer, Gur & Wolf, Generic Attention-model Explainability "
                  "for Interpreting Bi-Modal and Encoder-Decoder Transformers (ICCV 2021)."),
    "lens": ("Shows: the class each patch token would be given if the head read it at this block. Does not show: "
             "what the token means to the model; the head was trained on the last block's CLS token only, so "
             "early blocks are read out of their context. Reference: nostalgebraist, interpreting GPT: the logit "
             "lens (2020)."),
    "norms": ("Shows: how long each token's vector is. Does not show: what it encodes; high-norm tokens are "
              "where ViTs store global information (Darcet et al., Vision Transformers Need Registers, ICLR 2024)."),
}
