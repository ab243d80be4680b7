"""The ASH-Net architecture diagram of the concepts page, drawn with matplotlib at build time."""

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

COLOURS = {
    "data": "#eeeeee",
    "ann": "#cfe2f3",
    "snn": "#fce5cd",
    "text": "#d9ead3",
    "mix": "#e6dcf0",
    "loss": "#f4cccc",
}


def box(ax, x, y, w, h, text, kind, size=9, weight="normal"):
    """A rounded box with centred text; returns its anchor points."""
    ax.add_patch(
        FancyBboxPatch(
            (x, y),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor=COLOURS[kind],
            edgecolor="#555555",
            linewidth=1,
        )
    )
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size, weight=weight, wrap=True)
    return {
        "l": (x, y + h / 2),
        "r": (x + w, y + h / 2),
        "t": (x + w / 2, y + h),
        "b": (x + w / 2, y),
        "tl": (x + w * 0.25, y + h),
        "bl": (x + w * 0.25, y),
        "tr": (x + w * 0.75, y + h),
        "br": (x + w * 0.75, y),
    }


def arrow(ax, start, end, label=None, dashed=False, colour="#333333", label_offset=(0, 0.12), rad=0.0):
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops=dict(
            arrowstyle="-|>",
            color=colour,
            lw=1.3,
            linestyle="--" if dashed else "-",
            shrinkA=2,
            shrinkB=2,
            connectionstyle=f"arc3,rad={rad}",
        ),
    )
    if label:
        mx, my = (start[0] + end[0]) / 2 + label_offset[0], (start[1] + end[1]) / 2 + label_offset[1]
        ax.text(mx, my, label, ha="center", va="bottom", fontsize=7.5, color="#333333", family="monospace")


fig, ax = plt.subplots(figsize=(13, 7.2))
ax.set_xlim(0, 16.5)
ax.set_ylim(0, 9.7)
ax.axis("off")

image = box(ax, 0.2, 6.3, 1.7, 1.0, "images\n[B, 3, H, W]\nin [0, 1]", "data")
concrete = box(
    ax,
    2.6,
    6.1,
    2.9,
    1.4,
    "Concrete encoder (ANN)\nEfficientNet-Lite0, tiny CNN,\ntimm or torchvision",
    "ann",
)
abstract = box(
    ax,
    6.6,
    4.7,
    4.4,
    3.0,
    "Abstract encoder (SNN), T steps\n\n"
    "Linear + LayerNorm\n"
    "spike encoding: direct | Poisson\n"
    "depth x [spiking self-attention\n      + spiking MLP] (membrane shortcut)\n"
    "output LIF -> rate | membrane readout\n"
    "-> abstract projection",
    "snn",
    size=8.5,
)
c_proj = box(ax, 6.6, 8.2, 2.4, 0.8, "concrete projection\nLinear C -> E", "ann", size=8.5)
fusion = box(ax, 12.0, 6.2, 1.9, 1.2, "Fusion\ngate | ratio\n+ L2 norm", "mix")
img_emb = box(ax, 14.5, 6.3, 1.8, 1.0, "image\nembedding\n[B, E]", "data")

captions = box(ax, 0.2, 1.0, 1.7, 1.0, "captions\n(strings)", "data")
text = box(ax, 2.6, 0.8, 2.9, 1.4, "Text encoder\nMiniLM (transformers),\nmean pooling", "text")
t_proj = box(ax, 6.6, 0.5, 2.4, 0.8, "text projection\nLinear H -> E", "text", size=8.5)
adapter = box(ax, 6.6, 2.4, 2.4, 1.0, "STUA adapter\nLinear H -> C", "text", size=8.5)
txt_emb = box(ax, 14.5, 0.4, 1.8, 1.0, "text\nembedding\n[B, E]", "data")

itc = box(ax, 14.5, 3.5, 1.8, 1.0, "ITC\n(hard negatives)", "loss", size=8.5)
st = box(ax, 11.8, 4.2, 2.3, 1.0, "spatio-temporal\ncontrast (time\nwindows as views)", "loss", size=8)
stua = box(ax, 12.0, 2.2, 1.9, 1.2, "STUA\nspiking text emb.\nvs text emb.", "loss", size=8)

arrow(ax, image["r"], concrete["l"])
arrow(ax, concrete["r"], abstract["l"], "tokens [B,N,C]", label_offset=(0, 0.1))
arrow(ax, concrete["t"], c_proj["l"], "pooled [B,C]", label_offset=(-0.9, -0.05), rad=-0.3)
arrow(ax, c_proj["r"], fusion["t"], "c [B,E]", label_offset=(0.3, 0.05), rad=-0.2)
arrow(ax, (11.0, 6.8), fusion["l"], "a [B,E]", label_offset=(0, 0.03))
arrow(ax, fusion["r"], img_emb["l"])
arrow(ax, (11.0, 5.0), st["l"], "steps", label_offset=(0.0, 0.02))
arrow(ax, img_emb["b"], itc["t"])
arrow(ax, txt_emb["t"], itc["b"])

arrow(ax, captions["r"], text["l"])
arrow(ax, text["r"], t_proj["l"], "pooled [B,H]", label_offset=(0, 0.02))
arrow(ax, t_proj["r"], txt_emb["l"])
arrow(ax, text["t"], adapter["l"], "tokens [B,L,H]", label_offset=(-0.7, 0.15), rad=-0.25)
arrow(ax, adapter["t"], abstract["bl"], dashed=True, colour="#b45f06")
arrow(ax, abstract["br"], stua["tl"], "STUA path", dashed=True, colour="#b45f06", label_offset=(0.2, 0.1))
arrow(ax, (txt_emb["l"][0], 1.2), stua["r"], rad=0.25)
ax.text(14.35, 1.9, "target\n(detached)", fontsize=7.5, ha="right", family="monospace", color="#333333")

ax.text(
    0.2,
    9.6,
    "ASH-Net: solid arrows are the image-text path; dashed arrows are STUA "
    "(captions alone train the spiking encoder).",
    fontsize=9.5,
    va="top",
)
fig.tight_layout()
