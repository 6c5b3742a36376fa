"""Labels written for LaTeX, drawn without it: the figure hook of unite's style sheet.

unite's style renders text with LaTeX at 25 pt, and its tutorials write labels for that:
``r'$\\lambda$ [\\AA]'`` (``\\AA`` outside math mode, which LaTeX typesets and matplotlib's
mathtext prints literally) and axis labels longer than the panels they sit on. The sheet
names :func:`fit_labels` in ``figure.hooks``, so every figure made with ``pyplot`` under the
style gets a :class:`LabelFitter`, which adapts the texts just before the figure is drawn:

- ``\\AA`` outside math mode becomes ``Å`` wherever the text is not rendered by LaTeX;
- an axis label or title longer than its axes is broken into lines at spaces outside math
  mode (two or three lines, as even as possible) or, if that is not enough, set smaller, so
  that it no longer runs into neighbouring panels, titles and the figure's edge.

The texts keep their new content afterwards (``ax.get_ylabel()`` returns the broken label).
"""

from __future__ import annotations

import re
import weakref

from matplotlib.artist import Artist
from matplotlib.text import Text
from matplotlib.transforms import Bbox

__all__ = ["LabelFitter", "fit_labels", "latex_to_mathtext"]

# a dollar sign not escaped by a backslash opens or closes math mode
_DOLLAR = re.compile(r"(?<!\\)\$")
_MAX_LINES = 3
# a label set smaller keeps at least this fraction of its size
_MIN_SHRINK = 0.5


def fit_labels(fig) -> None:
    """Figure hook (``figure.hooks`` in ``unite.mplstyle``): add a :class:`LabelFitter`."""
    if not any(isinstance(artist, LabelFitter) for artist in fig.artists):
        fig.add_artist(LabelFitter())


def latex_to_mathtext(text: str) -> str:
    """``text`` with ``\\AA`` outside math mode replaced by ``Å``.

    Inside ``$...$`` mathtext knows ``\\AA`` and it is left alone.
    """
    if r"\AA" not in text:
        return text
    parts = _DOLLAR.split(text)
    # even parts lie outside math mode (an unbalanced last '$' leaves its tail as text)
    return "$".join(
        part.replace(r"\AA", "Å") if i % 2 == 0 else part for i, part in enumerate(parts)
    )


class LabelFitter(Artist):
    """Invisible artist, drawn first in its figure, that adapts the figure's texts.

    See the module's description. It takes no space: it is left out of layouts and of
    ``bbox_inches='tight'``.
    """

    def __init__(self):
        super().__init__()
        self.set_zorder(float("-inf"))  # before every other artist of the figure
        self.set_in_layout(False)
        # text → the content it was left with: fitted once, not shrunk again at every draw
        self._fitted: weakref.WeakKeyDictionary[Text, str] = weakref.WeakKeyDictionary()

    def __getstate__(self) -> dict:
        # figures are picklable; weak references are not (texts are fitted again when drawn)
        state = super().__getstate__()
        state["_fitted"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._fitted = weakref.WeakKeyDictionary()

    def get_window_extent(self, renderer=None) -> Bbox:
        return Bbox.null()

    def draw(self, renderer) -> None:
        fig = self.figure
        if fig is None or not self.get_visible():
            return
        for text in fig.findobj(Text):
            if not text.get_usetex():
                content = text.get_text()
                converted = latex_to_mathtext(content)
                if converted != content:
                    text.set_text(converted)
        for ax in fig.axes:
            box = ax.get_window_extent(renderer)
            for text, room, vertical in (
                (ax.yaxis.label, box.height, True),
                (ax.xaxis.label, box.width, False),
                (ax.title, box.width, False),
            ):
                if self._fitted.get(text) != text.get_text():
                    _fit(text, room, renderer, vertical=vertical)
                    self._fitted[text] = text.get_text()


def _fit(text: Text, room: float, renderer, *, vertical: bool) -> None:
    """Break ``text`` into lines, or shrink it, until its length is at most ``room`` pixels."""
    if not text.get_visible() or not text.get_text() or room <= 0:
        return
    length = _length(text, renderer, vertical)
    if length <= room:
        return
    original = text.get_text()
    if "\n" not in original:
        for lines in range(2, _MAX_LINES + 1):
            broken = _break(original, lines)
            if broken is None:
                break
            text.set_text(broken)
            length = _length(text, renderer, vertical)
            if length <= room:
                return
    text.set_fontsize(text.get_fontsize() * max(room / length, _MIN_SHRINK))


def _length(text: Text, renderer, vertical: bool) -> float:
    box = text.get_window_extent(renderer)
    return box.height if vertical else box.width


def _break(text: str, lines: int) -> str | None:
    """``text`` in ``lines`` lines of about equal length, broken at spaces outside math mode;
    None if it has too few such spaces."""
    spaces = []
    in_math = False
    for i, char in enumerate(text):
        if char == "$" and (i == 0 or text[i - 1] != "\\"):
            in_math = not in_math
        elif char == " " and not in_math:
            spaces.append(i)
    if len(spaces) < lines - 1:
        return None
    chosen: list[int] = []
    for k in range(1, lines):
        target = k * len(text) / lines
        candidates = [i for i in spaces if not chosen or i > chosen[-1]]
        if not candidates:
            return None
        chosen.append(min(candidates, key=lambda i: abs(i - target)))
    out = list(text)
    for i in chosen:
        out[i] = "\n"
    return "".join(out)
