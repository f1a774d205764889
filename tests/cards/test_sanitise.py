"""Card Markdown is safe to show: what the sanitiser stores holds no script, and every page forbids inline
script anyway (the Content-Security-Policy header).

Every output is read back with an HTML parser (the `Collector` below), never matched as a string: a check
for the substring "javascript:" would pass `jav&#x09;ascript:`, which a browser reads as the same URL.
The collector's own allowlists are written out here, not imported, so widening the sanitiser's allowlist
fails these tests until someone has looked at what the new tag or attribute lets in.
"""

import re
from html import unescape
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.support import bearer
from warehouse.cards.markdown import markdown_to_safe_html
from warehouse.cards.services import card_revise

SAFE_TAGS = frozenset(
    {
        *("a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "dl", "dt", "em", "hr", "i", "img"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "li", "ol", "p", "pre", "strong", "sub", "sup", "ul"),
        *("table", "tbody", "td", "th", "thead", "tr"),
    }
)
SAFE_ATTRIBUTES = {
    "a": {"href", "title", "rel"},
    "abbr": {"title"},
    "img": {"src", "alt", "title"},
    "td": {"align"},
    "th": {"align"},
}
# nh3 (ammonia) allows these on every tag unless told otherwise: plain text to a browser, never a URL.
GENERIC_ATTRIBUTES = frozenset({"title", "lang"})
# Named by the issue: none of these may appear at all, whatever an allowlist says.
NEVER_TAGS = frozenset(
    {"script", "iframe", "form", "base", "meta", "object", "embed", "style", "link", "svg"}
)
URL_ATTRIBUTES = frozenset(
    {"href", "src", "xlink:href", "action", "formaction", "srcset", "poster", "background", "data", "cite"}
)
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")
# What a browser ignores in a URL: it drops tabs and newlines anywhere and C0 controls and spaces at the
# ends. Dropping every C0 control and space anywhere is stricter, so nothing a browser accepts slips by.
_IGNORED_IN_URL = re.compile(r"[\x00-\x20\x7f]")


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see in an attribute value, which the parser has entity-decoded once (as a
    browser does: `&amp;#106;` stays the text `&#106;`, a relative URL)."""
    match = _SCHEME.match(_IGNORED_IN_URL.sub("", value).lower())
    return match.group(1) if match else None


class Collector(HTMLParser):
    """Reads sanitised HTML and lists everything in it that could run script or leave the allowlist."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in NEVER_TAGS:
            self.problems.append(f"<{tag}> is never allowed")
        elif tag not in SAFE_TAGS:
            self.problems.append(f"<{tag}> is outside the allowlist")
        for name, value in attrs:
            self._attribute(tag, name, value or "")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def _attribute(self, tag: str, name: str, value: str) -> None:
        if name.startswith("on"):
            self.problems.append(f"<{tag} {name}>: an event handler")
        if name in {"srcdoc", "style"}:
            self.problems.append(f"<{tag} {name}>: never allowed")
        if name not in SAFE_ATTRIBUTES.get(tag, set()) | GENERIC_ATTRIBUTES:
            self.problems.append(f"<{tag} {name}>: attribute outside the allowlist")
        if name in URL_ATTRIBUTES:
            scheme = url_scheme(value)
            if scheme is not None and scheme not in SAFE_SCHEMES:
                self.problems.append(f"<{tag} {name}={value!r}>: the {scheme}: scheme")
        if name == "http-equiv" and value.strip().lower() == "refresh":
            self.problems.append(f"<{tag} http-equiv=refresh>: a meta refresh")

    def handle_comment(self, data):
        # Comments are stripped; one left behind is where a parser differential hides a tag.
        self.problems.append(f"a comment survived: {data!r}")

    def handle_decl(self, decl):
        self.problems.append(f"a declaration survived: {decl!r}")

    def handle_pi(self, data):
        self.problems.append(f"a processing instruction survived: {data!r}")

    def unknown_decl(self, data):
        self.problems.append(f"a CDATA section or unknown declaration survived: {data!r}")


def collect(html: str) -> Collector:
    collector = Collector()
    collector.feed(html)
    collector.close()
    return collector


def problems_in(html: str) -> list[str]:
    return collect(html).problems


# --- Payloads -------------------------------------------------------------------------------------------

JS = "alert(1)"
PAYLOADS = {
    # Links to javascript:, as Markdown and as HTML, in every spelling a browser still runs.
    "md link": f"[x](javascript:{JS})",
    "md link, mixed case": f"[x](JaVaScRiPt:{JS})",
    "md link, decimal entities": f"[x](&#106;&#97;vascript:{JS})",
    "md link, hex entities": f"[x](&#x6A;&#x61;vascript:{JS})",
    "md link, entity colon": f"[x](javascript&colon;{JS})",
    "md link, padded entity": f"[x](&#0000106avascript:{JS})",
    "md link, encoded newline": f"[x](java&#x0A;script:{JS})",
    "md link, angle brackets": f"[x](<javascript:{JS}>)",
    "md link, reference style": f"[x][evil]\n\n[evil]: javascript:{JS}",
    "md link, reference style, mixed case": f"[x][evil]\n\n[evil]: JAVASCRIPT:{JS} 'title'",
    "md autolink": f"<javascript:{JS}>",
    "md image": f"![x](javascript:{JS})",
    "md link, data html": "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "md link, data html plain": "[x](data:text/html,<script>alert(1)</script>)",
    "md link, vbscript": "[x](vbscript:msgbox(1))",
    "md link, title breaking out": f'[x](https://example.com "t\\" onmouseover={JS} x=\\"")',
    "html a, tab entity": f'<a href="jav&#x09;ascript:{JS}">x</a>',
    "html a, leading space": f'<a href=" javascript:{JS}">x</a>',
    "html a, leading controls": f'<a href="\x01\x02 \tjavascript:{JS}">x</a>',
    "html a, newline inside": f'<a href="java\nscript:{JS}">x</a>',
    "html a, vbscript": '<a href="vbscript:msgbox(1)">x</a>',
    "html a, data html": '<a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">x</a>',
    "html a, style and target": '<a href="https://example.com" style="color:red" target="_blank">x</a>',
    # Tags that run script or load something, and event handlers.
    "img onerror": f"<img src=x onerror={JS}>",
    "img data svg": '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
    "img data svg base64": '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "img srcset": f'<img src="https://example.com/a.png" srcset="javascript:{JS} 1x">',
    "script": f"<script>{JS}</script>",
    "script, mixed case": f"<ScRiPt>{JS}</sCrIpT>",
    "script inside a paragraph": f"Hello <script>{JS}</script> world",
    "svg xlink:href": f'<svg><a xlink:href="javascript:{JS}"><text>x</text></a></svg>',
    "svg onload": f"<svg onload={JS}></svg>",
    "svg use": '<svg><use href="data:image/svg+xml,<svg id=x onload=alert(1)>#x"></use></svg>',
    "iframe srcdoc": f'<iframe srcdoc="<script>{JS}</script>"></iframe>',
    "iframe src": f'<iframe src="javascript:{JS}"></iframe>',
    "details ontoggle": f"<details open ontoggle={JS}><summary>s</summary>x</details>",
    "object": '<object data="data:text/html,<script>alert(1)</script>"></object>',
    "embed": '<embed src="data:text/html,<script>alert(1)</script>">',
    "style element": "<style>body { background: url(javascript:alert(1)) }</style>",
    "link stylesheet": '<link rel="stylesheet" href="https://evil.example/x.css">',
    "meta refresh": f'<meta http-equiv="refresh" content="0;url=javascript:{JS}">',
    "base href": '<base href="https://evil.example/">',
    "form action": '<form action="https://evil.example/"><button>go</button></form>',
    "input autofocus onfocus": f"<input autofocus onfocus={JS}>",
    "button formaction": f'<button formaction="javascript:{JS}">x</button>',
    "body onload": f"<body onload={JS}>",
    "marquee onstart": f"<marquee onstart={JS}>x</marquee>",
    "video poster": f'<video poster="javascript:{JS}"><source onerror="{JS}"></video>',
    # Markdown's attribute-list syntax: the sanitiser's Markdown has no attr_list, and nh3 follows anyway.
    "attr list on a paragraph": f"A paragraph\n{{: onclick={JS} }}",
    "attr list on a heading": f"# Heading {{: onclick={JS} }}",
    "attr list on a link": f"[x](https://example.com){{: onclick={JS} }}",
    "attr list on an image": f"![x](https://example.com/a.png){{: onerror={JS} }}",
    # Parser differentials: comments, noscript and mutation (mXSS) payloads.
    "comment hiding a tag": f"<!-- <script>{JS}</script> -->",
    "comment closing early": f"<!--> <img src=x onerror={JS}> -->",
    "comment, bang close": f"<!-- --!><img src=x onerror={JS}> -->",
    "noscript title": f'<noscript><p title="</noscript><img src=x onerror={JS}>"></noscript>',
    "math style mutation": f"<math><mtext><table><mglyph><style><img src=x onerror={JS}>",
    "math style mutation, closed": (
        f'<math><mtext><table><mglyph><style><!--</style><img title="--&gt;&lt;img src=1 onerror={JS}&gt;">'
    ),
    "svg style mutation": f'<svg></p><style><a id="</style><img src=1 onerror={JS}>">',
    "form math mutation": (
        f"<form><math><mtext></form><form><mglyph><style></math><img src onerror={JS}></style></mglyph>"
    ),
    "select style mutation": f"<select><style></select><img src=x onerror={JS}></style></select>",
    "template": f"<template><img src=x onerror={JS}></template>",
    "textarea": f"<textarea></textarea><img src=x onerror={JS}>",
    "title rawtext": f"<title><img src=x onerror={JS}></title>",
    "cdata": f"<![CDATA[<img src=x onerror={JS}>]]>",
    "fenced code holding html": f"```\n<script>{JS}</script>\n```",
    "inline code holding html": f"`<img src=x onerror={JS}>`",
}


@pytest.mark.parametrize("source", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_it_lets_no_payload_through(source):
    html = markdown_to_safe_html(source)
    assert problems_in(html) == [], html


@pytest.mark.parametrize(
    "source",
    [
        f"[the docs](javascript:{JS})",
        f"[the docs][r]\n\n[r]: jAvAsCrIpT:{JS}",
        f"[the docs](data:text/html,{JS})",
    ],
)
def test_it_keeps_the_text_of_a_link_it_disarms(source):
    html = markdown_to_safe_html(source)
    assert problems_in(html) == []
    assert "the docs" in html and "href" not in html


def test_it_shows_the_attribute_list_syntax_as_text():
    html = markdown_to_safe_html(f"# Heading {{: onclick={JS} }}")
    assert collect(html).tags == ["h1"]
    assert "{: onclick=" in unescape(html)


def test_it_keeps_code_that_shows_html_as_text():
    html = markdown_to_safe_html(f"```\n<script>{JS}</script>\n```")
    assert collect(html).tags == ["pre", "code"]
    assert f"<script>{JS}</script>" in unescape(html)


def test_it_allows_a_protocol_relative_link_as_a_plain_link():
    # `//host/` takes the page's scheme, http or https: it is an ordinary web link, not a way to run script.
    html = markdown_to_safe_html("[elsewhere](//example.org/page)")
    assert html == f'<p><a href="//example.org/page" rel="{LINK_REL}">elsewhere</a></p>'
    assert problems_in(html) == []


# --- The collector finds what it looks for (a collector that sees nothing would pass everything) -------


@pytest.mark.parametrize(
    "html",
    [
        f"<script>{JS}</script>",
        f"<img src=x onerror={JS}>",
        f'<a href="jav&#x09;ascript:{JS}">x</a>',
        f'<a href=" &#x01;JAVASCRIPT:{JS}">x</a>',
        '<a href="data:text/html,x">x</a>',
        '<img src="data:image/png;base64,AAAA">',
        '<iframe srcdoc="x"></iframe>',
        '<meta http-equiv="refresh" content="0">',
        '<base href="https://evil.example/">',
        '<form action="https://evil.example/"></form>',
        '<p style="color:red">x</p>',
        '<div title="x">x</div>',
        f'<svg><a xlink:href="javascript:{JS}">x</a></svg>',
        "<!-- <img src=x> -->",
        '<br/ onclick="x">',
    ],
)
def test_the_collector_catches_dangerous_html(html):
    assert problems_in(html) != []


def test_the_collector_accepts_safe_html():
    html = (
        f'<p><a href="https://example.com/a?b=c" title="t" rel="{LINK_REL}">a</a> '
        f'<a href="/models/">b</a> <a href="mailto:x@example.com">c</a> <img src="x" alt="y"></p>'
    )
    assert problems_in(html) == []


# --- Whatever the input, the output passes the collector -------------------------------------------------

FRAGMENTS = [
    *PAYLOADS.values(),
    *("<", ">", "</", "/>", '"', "'", "=", "&", "&#", "&#x", ";", "`", "```\n", "    ", "\n", "\n\n", "\t"),
    *("[", "]", "(", ")", "![", "](", "]: ", "{:", "}", "*", "_", "#", "> ", "- ", "1. ", "|", "---"),
    *(
        "javascript:",
        "JaVaScRiPt:",
        "data:",
        "vbscript:",
        "java\tscript:",
        " on",
        "onerror=",
        "href=",
        "src=",
    ),
    *("<a ", "<img ", "<svg>", "<math>", "<mtext>", "<mglyph>", "<table>", "<style>", "</style>", "<select>"),
    *(
        "<noscript>",
        "</noscript>",
        "<template>",
        "<textarea>",
        "<title>",
        "<xmp>",
        "<plaintext>",
        "<!--",
        "-->",
    ),
]
# Text a request can carry and the database can store: UTF-8 (no lone surrogates) without NUL, which
# PostgreSQL refuses.
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
SOURCES = st.lists(st.one_of(TEXT, st.sampled_from(FRAGMENTS)), max_size=25).map("".join)


@settings(max_examples=400, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SOURCES)
def test_any_text_with_dangerous_fragments_comes_out_safe(source):
    html = markdown_to_safe_html(source)
    assert problems_in(html) == [], (source, html)


# --- Ordinary Markdown survives ------------------------------------------------------------------------

BENIGN = """# Fraud scorer

## Known failures

- New merchants in their *first* week
- Refunds **over** 1,000 EUR

1. Check the slice table
2. Ask the owners

| slice | auc |
|-------|-----|
| region=EU | 0.91 |

```python
def score(payment):
    return model.predict(payment) < 0.5
```

See [the runbook](https://wiki.example.com/fraud "Runbook"), <https://status.example.com> and
[mail the team](mailto:fraud-ml@example.com).

> Quoted `code` and ~~nothing else~~.
"""


def test_it_keeps_ordinary_markdown():
    html = markdown_to_safe_html(BENIGN)
    collector = collect(html)
    assert collector.problems == []
    for tag in ("h1", "h2", "ul", "ol", "li", "em", "strong", "table", "thead", "th", "td", "pre", "code"):
        assert tag in collector.tags, tag
    assert "<h1>Fraud scorer</h1>" in html
    assert "<td>region=EU</td>" in html
    assert "return model.predict(payment) &lt; 0.5" in html
    assert (
        f'<a href="https://wiki.example.com/fraud" title="Runbook" rel="{LINK_REL}">the runbook</a>' in html
    )
    assert f'<a href="https://status.example.com" rel="{LINK_REL}">https://status.example.com</a>' in html
    assert f'<a href="mailto:fraud-ml@example.com" rel="{LINK_REL}">mail the team</a>' in html


def test_every_link_gets_rel_noopener_noreferrer_nofollow():
    html = markdown_to_safe_html('<a href="https://example.com" rel="opener">x</a> [y](http://example.com)')
    assert html.count(f'rel="{LINK_REL}"') == 2
    assert 'rel="opener"' not in html


# --- Every page forbids inline script --------------------------------------------------------------------


def csp_directives(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        if part.strip():
            name, *sources = part.split()
            directives.setdefault(name.lower(), [source.lower() for source in sources])
    return directives


def assert_forbids_inline_script(response) -> None:
    assert "Content-Security-Policy" in response.headers, response.request["PATH_INFO"]
    directives = csp_directives(response.headers["Content-Security-Policy"])
    # script-src when given, else default-src: the sources a browser allows script from.
    script_sources = directives.get("script-src", directives.get("default-src"))
    assert script_sources, directives
    for unsafe in ("'unsafe-inline'", "'unsafe-hashes'", "'unsafe-eval'", "data:", "*", "http:", "https:"):
        assert unsafe not in script_sources, (unsafe, script_sources)
    # A <base> or <object> would also be a way round it; the header closes them too.
    assert directives.get("base-uri") == ["'none'"]
    assert directives.get("object-src") == ["'none'"]


@pytest.mark.django_db
def test_the_sign_in_page_forbids_inline_script(client):
    response = client.get(reverse("accounts:sign-in"))
    assert response.status_code == 200
    assert_forbids_inline_script(response)


@pytest.mark.django_db
def test_a_redirect_and_a_not_found_page_forbid_inline_script(client, viewer):
    assert_forbids_inline_script(client.get(reverse("home")))  # anonymous: a redirect to sign in
    client.force_login(viewer)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert_forbids_inline_script(response)


def test_the_home_page_forbids_inline_script(client, viewer, model):
    client.force_login(viewer)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert_forbids_inline_script(response)


def test_a_version_page_forbids_inline_script(client, viewer, model, version):
    client.force_login(viewer)
    response = client.get(reverse("registry:version", args=[model.name, version.number]))
    assert response.status_code == 200
    assert_forbids_inline_script(response)


def test_a_card_page_forbids_inline_script(client, viewer, model, version, contributor):
    card_revise(actor=contributor, version=version, sections={"task": PAYLOADS["img onerror"]})
    client.force_login(viewer)
    response = client.get(reverse("cards:card", args=[model.name, version.number]))
    assert response.status_code == 200
    assert_forbids_inline_script(response)


def test_an_api_response_forbids_inline_script(client, viewer, model, version):
    response = client.get(f"/api/v1/models/{model.name}/versions/{version.number}", **bearer(viewer))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert_forbids_inline_script(response)
    assert_forbids_inline_script(client.get("/api/v1/no-such-thing", **bearer(viewer)))


@pytest.mark.django_db
def test_the_admin_forbids_inline_script(client, superuser):
    client.force_login(superuser)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert_forbids_inline_script(response)
