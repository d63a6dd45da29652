"""Reading back what the report wrote: the timeline's marks (SVG) and the page's table cells and
local links (HTML)."""
import html.parser
import xml.etree.ElementTree as ElementTree

SVG = "{http://www.w3.org/2000/svg}"


def timeline_marks(svg_text):
    """``{(class, GT id): {"FN": misses, "IDS": triangles, "Frag": bars, "stated": (FN, IDS,
    Frag) of the row's data attributes}}`` and ``{class: FP}`` of a timeline SVG."""
    root = ElementTree.fromstring(svg_text)
    rows, false_positives = {}, {}
    for group in root.iter(SVG + "g"):
        if group.get("class") == "track":
            key = (group.get("data-class"), int(group.get("data-gt")))
            elements = list(group.iter())
            rows[key] = {
                "FN": sum(int(e.get("data-fn")) for e in elements if e.get("class") == "fn"),
                "IDS": sum(e.get("class") == "ids" for e in elements),
                "Frag": sum(e.get("class") == "frag" for e in elements),
                "stated": tuple(int(group.get(f"data-{n}")) for n in ("fn", "ids", "frag")),
            }
        elif group.get("class") == "fp":
            false_positives[group.get("data-class")] = sum(
                int(e.get("data-fp")) for e in group.iter(SVG + "rect")
            )
    return rows, false_positives


class PageParser(html.parser.HTMLParser):
    """Local links (href, src) and the metrics tables' cells of a report page."""

    def __init__(self):
        super().__init__()
        self.links, self.cells, self.ids = [], [], set()
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append(attrs[name])
        if tag == "td" and "data-field" in attrs:
            self._cell = dict(attrs, text="")

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.cells.append(self._cell)
            self._cell = None


def parse_page(text):
    parser = PageParser()
    parser.feed(text)
    return parser
