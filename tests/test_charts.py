"""The one chart component: its geometry, its shapes, and the partial that draws a chart."""

from django.template.loader import render_to_string

from warehouse.charts import Chart, Dot, Layout, Line, Note, Text, frame_for, nice_ticks

LAYOUT = Layout(label_width=250, value_width=80, row_height=24, top=30, bottom=26, grid_gap=8, label_chars=10)


def test_ticks_fall_on_round_values():
    assert nice_ticks(0, 1) == [0, 0.25, 0.5, 0.75, 1.0]
    assert nice_ticks(0.11, 0.52) == [0.2, 0.4]  # a step of 0.1 would give more than five
    assert nice_ticks(3, 3) == [3]


def test_a_frame_spans_its_values_with_a_margin():
    frame = frame_for(LAYOUT, [0.5, 1.5], rows=2, flat_share=0.05, flat_floor=1.0)
    assert (frame.low, frame.high) == (0.42, 1.58)
    assert frame.x(frame.low) == frame.plot_left == 250 and frame.x(frame.high) == frame.plot_right == 1020
    assert frame.y(0) == 42.0 and frame.y(1) == 66.0 and frame.height == 30 + 2 * 24 + 26


def test_equal_values_get_a_margin_of_their_own_size_or_the_floor():
    assert (frame_for(LAYOUT, [2.0, 2.0], rows=1, flat_share=0.05, flat_floor=1.0).low) == 1.9
    zero = frame_for(LAYOUT, [0.0], rows=1, flat_share=0.05, flat_floor=1.0)
    assert (zero.low, zero.high) == (-1.0, 1.0)


def test_shapes_draw_one_element_each_with_their_text_escaped():
    assert str(Line("base", 1, 1, 2.5, 9)) == '<line class="base" x1="1" x2="1" y1="2.5" y2="9"/>'
    assert str(Dot("dot worse", 10.5, 42.0, 5.5)) == '<circle class="dot worse" cx="10.5" cy="42.0" r="5.5"/>'
    text = Text("hint", 3, 4, "<b>&", anchor="end", dy="-4")
    assert str(text) == '<text class="hint" x="3" y="4" dy="-4" text-anchor="end">&lt;b&gt;&amp;</text>'


def test_labels_are_cut_to_the_layouts_length():
    frame = frame_for(LAYOUT, [0.0, 1.0], rows=1, flat_share=0.05, flat_floor=1.0)
    assert frame.label(0, "merchant_category=electronics").text == "merchant_…"


def test_the_partial_draws_an_accessible_image_without_style_or_script():
    frame = frame_for(LAYOUT, [0.0, 1.0], rows=1, flat_share=0.05, flat_floor=1.0)
    panel = frame.panel(
        title="auc by slice",
        notes=[Note("↑ higher is better"), Note("1 worse", "worse")],
        description="Each row is a slice <really>.",
        ticks=frame.ticks(str),
        marks=[],
        rows=[],
    )
    html = render_to_string(
        "_chart.html", {"chart": Chart("chart", "chart", [panel], [Note("worse", "worse")])}
    )
    assert '<h3 id="chart-1-title">auc by slice <span class="muted">· ↑ higher is better · ' in html
    assert '<span class="worse">1 worse</span>' in html
    assert 'role="img" aria-labelledby="chart-1-title chart-1-desc"' in html
    assert '<desc id="chart-1-desc">Each row is a slice &lt;really&gt;.</desc>' in html
    assert '<li><span class="sw worse"></span>worse</li>' in html
    assert " style=" not in html and "<script" not in html


def test_a_chart_without_panels_says_why_when_it_has_words_for_it():
    said = render_to_string("_chart.html", {"chart": Chart("delta", "chart", [], empty="Nothing to draw.")})
    assert '<p class="empty">Nothing to draw.</p>' in said and "<svg" not in said
    assert render_to_string("_chart.html", {"chart": Chart("chart", "chart", [])}).strip() == ""
