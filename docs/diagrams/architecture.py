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


def box(ax, x, y, w, h, text, kind, size=12, weight="normal"):
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
        ax.text(mx, my, label, ha="center", va="bottom", fontsize=10, color="#333333", family="monospace")


fig, ax = plt.subplots(figsize=(12, 7.0))
ax.set_xlim(0, 16.5)
ax.set_ylim(0, 9.7)
ax.axis("off")

image = box(ax, 0.2, 6.3, 1.7, 1.0, "images", "data")
concrete = box(
    ax,
    2.6,
    6.1,
    2.9,
    1.4,
    "Concrete\nencoder (ANN)\nEfficientNet-Lite0",
    "ann",
)
abstract = box(
    ax,
    6.6,
    4.7,
    4.4,
    3.0,
    "Abstract encoder (SNN)\nover T time steps\n\nspike encoding\n"
    "spiking self-attention\n+ spiking MLP, x depth\noutput LIF, readout\n",
    "snn",
    size=12,
)
c_proj = box(ax, 6.6, 8.2, 2.4, 0.8, "concrete\nprojection", "ann", size=11)
fusion = box(ax, 12.0, 6.2, 1.9, 1.2, "Fusion\n(gate)", "mix")
img_emb = box(ax, 14.5, 6.3, 1.8, 1.0, "image\nembedding", "data")

captions = box(ax, 0.2, 1.0, 1.7, 1.0, "captions", "data")
text = box(ax, 2.6, 0.8, 2.9, 1.4, "Text encoder\n(MiniLM)", "text")
t_proj = box(ax, 6.6, 0.5, 2.4, 0.8, "text\nprojection", "text", size=11)
adapter = box(ax, 6.6, 2.4, 2.4, 1.0, "STUA\nadapter", "text", size=11)
txt_emb = box(ax, 14.5, 0.4, 1.8, 1.0, "text\nembedding", "data")

itc = box(ax, 14.5, 3.5, 1.8, 1.0, "ITC loss", "loss", size=11)
st = box(ax, 11.8, 4.2, 2.3, 1.0, "spatio-\ntemporal\ncontrast", "loss", size=11)
stua = box(ax, 12.0, 2.2, 1.9, 1.2, "STUA loss", "loss", size=11)

arrow(ax, image["r"], concrete["l"])
arrow(ax, concrete["r"], abstract["l"], "tokens\n[B,N,C]", label_offset=(0.15, 0.15))
arrow(ax, concrete["t"], c_proj["l"], "pooled [B,C]", label_offset=(-0.9, -0.05), rad=-0.3)
arrow(ax, c_proj["r"], fusion["t"], "c [B,E]", label_offset=(0.3, 0.05), rad=-0.2)
arrow(ax, (11.0, 6.8), fusion["l"], "a [B,E]", label_offset=(0, 0.03))
arrow(ax, fusion["r"], img_emb["l"])
arrow(ax, (11.0, 5.0), st["l"], "steps", label_offset=(0.0, 0.02))
arrow(ax, img_emb["b"], itc["t"])
arrow(ax, txt_emb["t"], itc["b"])

arrow(ax, captions["r"], text["l"])
arrow(ax, text["r"], t_proj["l"], "pooled\n[B,H]", label_offset=(0.2, 0.1))
arrow(ax, t_proj["r"], txt_emb["l"])
arrow(ax, text["t"], adapter["l"], "tokens [B,L,H]", label_offset=(-0.7, 0.15), rad=-0.25)
arrow(ax, adapter["t"], abstract["bl"], dashed=True, colour="#b45f06")
arrow(ax, abstract["br"], stua["tl"], "STUA path", dashed=True, colour="#b45f06", label_offset=(0.6, 0.05))
arrow(ax, (txt_emb["l"][0], 1.2), stua["r"], rad=0.25)
ax.text(13.9, 1.5, "target\n(detached)", fontsize=10, ha="right", family="monospace", color="#333333")

ax.text(
    0.2,
    9.6,
    "Solid arrows: the image-text path. Dashed: STUA, where captions alone train the spiking encoder.",
    fontsize=9.5,
    va="top",
)
fig.tight_layout()
