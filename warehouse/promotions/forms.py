"""The policy page's form. It only turns typed text into the JSON shape of a policy's rules; the same
parser as the API (`policy_parse`, through `policy_revise`) decides what is valid, and its errors, keyed by
JSON path (`staging_to_production.metric_bars[1].op`), are shown next to the field that was typed.

One SectionForm per move (prefixed `draft_to_staging-` and `staging_to_production-`) and a reason.
"""

import re

from django import forms

from warehouse.cards.sections import Section
from warehouse.errors import InvalidInput
from warehouse.promotions.policies.rules import (
    OPERATORS,
    SIGNOFF_ROLES,
    TRANSITIONS,
    Check,
    PolicyRules,
    SectionRules,
    policy_parse,
)
from warehouse.registry.models import ArtifactKind, Stage

_BAR = re.compile(r"^(?P<metric>\S+?)\s*(?P<op>>=|<=|=>|=<|==|>|<|=|≥|≤)\s*(?P<value>\S+)$")
# The signs mean what they say. `=>` and `=<` are not read as `>=` and `<=`: a bar typed backwards is
# refused on its line ("Use one of: >=, >, <=, <"), never guessed at.
_OP_SPELLINGS = {"≥": ">=", "≤": "<="}
_LINE_PATH = re.compile(r"^(?P<list>metric_bars|baseline)\[(?P<index>\d+)\](?:\.(?P<field>\w+))?$")
_SLICE_PATH = re.compile(r"^slices\.(?P<field>\w+)(?:\[(?P<index>\d+)\])?$")

SECTION_TITLES = {
    name: f"{Stage(source).label} → {Stage(target).label}" for name, (source, target) in TRANSITIONS.items()
}
LINES_ATTRS = {"class": "mono", "spellcheck": "false", "autocomplete": "off"}


def _number(text: str):
    """A typed number as a float; anything else unchanged, so the parser names it ("Must be a finite
    number") on its field."""
    text = text.strip().replace("_", "")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _whole(text: str):
    text = text.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    return _number(text)


def _text(value: float | int | None) -> str:
    """A number as a person would type it back: 0.8, 120, 1e-05."""
    if value is None:
        return ""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _percent(fraction: float) -> str | None:
    """`fraction` as a percentage that reads back exactly (2% for 0.02), or None if it would not."""
    text = f"{fraction * 100:.10g}"
    return f"{text}%" if "e" not in text and float(text) / 100 == fraction else None


def _lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of each non-blank line that is not a # comment."""
    return [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.strip().startswith("#")
    ]


def _words(text: str) -> list[str]:
    return [word for word in re.split(r"[\s,]+", text) if word]


_EMPTY = {forms.MultipleChoiceField: [], forms.BooleanField: False}


class SectionForm(forms.Form):
    """What one move requires, as typed text."""

    required_checks = forms.MultipleChoiceField(
        required=False,
        choices=[(name, Check.TITLES[name]) for name in Check.ALL],
        widget=forms.CheckboxSelectMultiple,
        help_text="A required check blocks the gate when it fails; the others are shown as advisory.",
    )
    required_artifact_kinds = forms.MultipleChoiceField(
        required=False,
        label="Required artifact kinds",
        choices=ArtifactKind.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    metric_bars = forms.CharField(
        required=False,
        strip=False,  # line numbers in errors must match what was typed
        label="Metric bars",
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "e.g. auc >= 0.80\nlog_loss <= 0.25", **LINES_ATTRS}
        ),
        help_text=(
            "One per line: metric, then >=, >, <= or <, then the bar. The candidate's own value must meet it."
        ),
    )
    baseline = forms.CharField(
        required=False,
        strip=False,  # line numbers in errors must match what was typed
        label="Against production",
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "placeholder": "e.g. auc 0.01\nrecall 2% relative\nlog_loss 0.005 lower",
                **LINES_ATTRS,
            }
        ),
        help_text=(
            "One per line: metric, how much worse than production it may be (0.01, or 2% of production's "
            "value), and optionally higher or lower to say which way is better when the evaluation does not."
        ),
    )
    slices_enabled = forms.BooleanField(required=False, label="Check slices against production")
    slices_scope = forms.ChoiceField(
        required=False,
        label="Which slices",
        choices=[("all", "Every shared slice"), ("listed", "Only listed slices")],
        help_text="Shared: reported by both the candidate and production.",
    )
    slices_slices = forms.CharField(
        required=False,
        strip=False,  # line numbers in errors must match what was typed
        label="Listed slices",
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "e.g. region=EU\nregion=US,device=mobile", **LINES_ATTRS}
        ),
        help_text="One per line, as key=value pairs. Used when only the listed slices are checked.",
    )
    slices_metrics = forms.CharField(
        required=False,
        label="Metrics",
        widget=forms.TextInput(attrs={"placeholder": "e.g. auc, recall", **LINES_ATTRS}),
        help_text="Separated by commas or spaces. Empty: every metric reported per slice.",
    )
    slices_max_worsening = forms.CharField(
        required=False,
        label="May worsen by at most",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0.01"}),
    )
    slices_relative = forms.BooleanField(
        required=False, label="Relative: a fraction of production's value (0.02 is 2%)"
    )
    slices_missing = forms.ChoiceField(
        required=False,
        label="A slice production reports and the candidate does not",
        choices=[("fail", "Fails the slices check"), ("warn", "Is a warning")],
        help_text="Missing is never called worse; this says what it costs on this move.",
    )
    slices_min_samples = forms.CharField(
        required=False,
        label="Minimum samples",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "100"}),
        help_text="A slice with fewer samples is shown but not judged.",
    )
    latency_p95_ms_max = forms.CharField(
        required=False,
        label="p95 latency budget (ms)",
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
        help_text="Empty: no budget.",
    )
    cost_per_1k_max = forms.CharField(
        required=False,
        label="Cost budget per 1,000 predictions",
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
        help_text="In the currency of the profile. Empty: no budget.",
    )
    required_card_sections = forms.MultipleChoiceField(
        required=False,
        label="Required card sections",
        choices=Section.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Each must be written and not empty.",
    )
    signoffs_count = forms.CharField(
        required=False,
        label="Sign-offs required",
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    signoffs_roles = forms.MultipleChoiceField(
        required=False,
        label="From",
        choices=[(role, f"{role}s") for role in SIGNOFF_ROLES],
        widget=forms.CheckboxSelectMultiple,
    )
    allow_first_production = forms.BooleanField(
        required=False,
        label="Allow a first production version without a rollback target",
    )

    def __init__(self, *args, section: str, **kwargs):
        super().__init__(*args, prefix=section, **kwargs)
        self.section = section
        self.title = SECTION_TITLES[section]
        # The lines that could be read, in the JSON shape, and the line number of each: the parser's
        # `metric_bars[2]` is typed on line self.lines["metric_bars"][2].
        self.read: dict[str, list[dict]] = {"metric_bars": [], "baseline": []}
        self.lines: dict[str, list[int]] = {"metric_bars": [], "baseline": []}
        if section != "staging_to_production":
            # Only a move to Production has a rollback target to miss.
            del self.fields["allow_first_production"]

    # --- Typed text → the JSON shape ------------------------------------------------------------------

    def clean_metric_bars(self) -> list[dict]:
        bars, problems = [], []
        for number, line in _lines(self.cleaned_data["metric_bars"]):
            match = _BAR.match(line)
            if match:
                op = _OP_SPELLINGS.get(match["op"], match["op"])
                bars.append({"metric": match["metric"], "op": op, "value": _number(match["value"])})
            else:
                problems.append(
                    f"Line {number}: write a metric, an operator ({', '.join(OPERATORS)}) and a number, "
                    "like auc >= 0.80."
                )
                continue
            self.lines["metric_bars"].append(number)
        self.read["metric_bars"] = bars
        if problems:
            raise forms.ValidationError(problems)
        return bars

    def clean_baseline(self) -> list[dict]:
        rules, problems = [], []
        for number, line in _lines(self.cleaned_data["baseline"]):
            metric, *words = line.split()
            rule: dict = {"metric": metric}
            for word in words:
                lowered = word.lower()
                if lowered in ("higher", "lower"):
                    rule["direction"] = lowered
                elif lowered == "relative":
                    rule["relative"] = True
                elif lowered == "absolute":
                    rule["relative"] = False
                elif lowered.endswith("%") and isinstance(_number(lowered[:-1]), float):
                    rule["tolerance"], rule["relative"] = _number(lowered[:-1]) / 100, True
                elif isinstance(_number(word), float) and "tolerance" not in rule:
                    rule["tolerance"] = _number(word)
                else:
                    problems.append(
                        f"Line {number}: {word!r} is not understood; write a metric, how much worse it may "
                        "be (0.01 or 2%), and optionally relative, and higher or lower."
                    )
                    break
            else:
                rules.append(rule)
                self.lines["baseline"].append(number)
        self.read["baseline"] = rules
        if problems:
            raise forms.ValidationError(problems)
        return rules

    def rules_data(self) -> dict:
        """The cleaned section in the JSON shape `policy_parse` reads."""
        # A field whose text could not be read counts as empty here, so the parser can still judge the rest.
        data = {name: _EMPTY.get(type(field), "") for name, field in self.fields.items()} | self.cleaned_data
        section: dict = {
            "required_checks": list(data["required_checks"]),
            "required_artifact_kinds": list(data["required_artifact_kinds"]),
            # The lines that could be read, even when others could not, so the parser can judge them too.
            "metric_bars": self.read["metric_bars"],
            "baseline": self.read["baseline"],
            "slices": None,
            "latency_p95_ms_max": _number(data["latency_p95_ms_max"]),
            "cost_per_1k_max": _number(data["cost_per_1k_max"]),
            "required_card_sections": list(data["required_card_sections"]),
            "signoffs": {"roles": list(data["signoffs_roles"])},
        }
        if data["signoffs_count"].strip():
            section["signoffs"]["count"] = _whole(data["signoffs_count"])
        if data["slices_enabled"]:
            slices: dict = {
                "scope": data["slices_scope"] or "all",
                "slices": [line for _, line in _lines(data["slices_slices"])],
                "metrics": _words(data["slices_metrics"]),
                "relative": data["slices_relative"],
            }
            if data["slices_max_worsening"].strip():
                slices["max_worsening"] = _number(data["slices_max_worsening"])
            if data["slices_min_samples"].strip():
                slices["min_samples"] = _whole(data["slices_min_samples"])
            section["slices"] = slices
        if data["slices_missing"]:
            section["missing_slices"] = data["slices_missing"]
        if "allow_first_production" in self.fields:
            section["allow_first_production"] = data["allow_first_production"]
        return section

    # --- The parser's errors → the fields they belong to -----------------------------------------------

    def add_rule_error(self, path: str, problem: str) -> None:
        """`path` is relative to this section: `metric_bars[1].op`, `slices.min_samples`, `signoffs.count`."""
        line = _LINE_PATH.match(path)
        if line:
            index = int(line["index"])
            numbers = self.lines[line["list"]]
            where = f"Line {numbers[index]}" if index < len(numbers) else f"Entry {index + 1}"
            what = f" ({line['field'].replace('_', ' ')})" if line["field"] else ""
            self.add_error(line["list"], f"{where}{what}: {problem}")
            return
        sliced = _SLICE_PATH.match(path)
        if sliced:
            field = f"slices_{sliced['field']}"
            prefix = ""
            if sliced["index"] is not None:
                prefix = f"{'Line' if field == 'slices_slices' else 'Entry'} {int(sliced['index']) + 1}: "
            self.add_error(field if field in self.fields else "slices_enabled", prefix + problem)
            return
        field = {
            "missing_slices": "slices_missing",
            "signoffs.count": "signoffs_count",
            "signoffs.roles": "signoffs_roles",
            "slices": "slices_enabled",
        }
        name = field.get(path) or re.sub(r"\[\d+\]$", "", path).replace(".", "_")
        if name in self.fields:
            self.add_error(name, problem)
        else:
            self.add_error(None, f"{path}: {problem}" if path else problem)

    # --- Rules → typed text ---------------------------------------------------------------------------

    @staticmethod
    def initial_from(rules: SectionRules) -> dict:
        baseline = []
        for rule in rules.baseline:
            words = [rule.metric]
            if rule.relative and _percent(rule.tolerance):
                words.append(_percent(rule.tolerance))
            else:
                words.append(_text(rule.tolerance))
                if rule.relative:
                    words.append("relative")
            if rule.direction:
                words.append(rule.direction)
            baseline.append(" ".join(words))
        initial = {
            "required_checks": list(rules.required_checks),
            "required_artifact_kinds": list(rules.required_artifact_kinds),
            "metric_bars": "\n".join(
                f"{bar.metric} {bar.op} {_text(bar.value)}" for bar in rules.metric_bars
            ),
            "baseline": "\n".join(baseline),
            "slices_enabled": rules.slices is not None,
            "latency_p95_ms_max": _text(rules.latency_p95_ms_max),
            "cost_per_1k_max": _text(rules.cost_per_1k_max),
            "required_card_sections": list(rules.required_card_sections),
            "signoffs_count": str(rules.signoffs.count),
            "signoffs_roles": list(rules.signoffs.roles),
            "allow_first_production": rules.allow_first_production,
            "slices_missing": rules.missing_slices,
        }
        if rules.slices is not None:
            initial.update(
                slices_scope=rules.slices.scope,
                slices_slices="\n".join(rules.slices.slices),
                slices_metrics=", ".join(rules.slices.metrics),
                slices_max_worsening=_text(rules.slices.max_worsening),
                slices_relative=rules.slices.relative,
                slices_min_samples=str(rules.slices.min_samples),
            )
        else:
            initial.update(slices_scope="all", slices_min_samples="100", slices_max_worsening="0")
        return initial


class PolicyForm:
    """Both sections and the reason. Valid when the text could be turned into the JSON shape; whether the
    rules are good is for the parser to say, through `add_service_errors`."""

    def __init__(self, data=None, *, rules: PolicyRules | None = None):
        self.sections = [
            SectionForm(
                data,
                section=name,
                initial=SectionForm.initial_from(getattr(rules, name)) if rules is not None else None,
            )
            for name in TRANSITIONS
        ]
        self.reason = ReasonForm(data)

    def __iter__(self):
        return iter(self.sections)

    def is_valid(self) -> bool:
        # Every part is cleaned, so that each shows its own problems at once.
        return all([section.is_valid() for section in self.sections] + [self.reason.is_valid()])

    @property
    def is_bound(self) -> bool:
        return self.reason.is_bound

    def rules_data(self) -> dict:
        return {section.section: section.rules_data() for section in self.sections}

    def add_parser_errors(self) -> None:
        """When some text could not be read, nothing is saved, but the parser still says what it thinks of
        the rest, so that every problem shows at once."""
        try:
            policy_parse(self.rules_data())
        except InvalidInput as error:
            self.add_service_errors(error.errors)
        if not self.reason.errors and not self.reason.cleaned_data["reason"].strip():
            # policy_revise says the same when it is called (it decides); it is not called with unread text.
            self.reason.add_error("reason", REASON_REQUIRED)

    @property
    def reason_text(self) -> str:
        return self.reason.cleaned_data["reason"]

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        """Show the parser's errors (keyed by JSON path) next to the field that was typed."""
        by_name = {section.section: section for section in self.sections}
        for path, problems in errors.items():
            head, _, rest = path.partition(".")
            for problem in problems:
                if path == "reason":
                    self.reason.add_error("reason", problem)
                elif head in by_name:
                    by_name[head].add_rule_error(rest, problem)
                else:
                    self.reason.add_error(None, f"{path}: {problem}")

    @property
    def errors_count(self) -> int:
        forms_ = [*self.sections, self.reason]
        return sum(len(form.errors) for form in forms_)

    def problems(self) -> list[tuple[str, str, str]]:
        """(anchor id, label, first problem) of each field with errors, for the summary at the top."""
        found = []
        for form in [*self.sections, self.reason]:
            prefix = f"{form.title}: " if isinstance(form, SectionForm) else ""
            for error in form.non_field_errors():
                found.append(("", prefix.rstrip(": ") or "Policy", error))
            for bound in form:
                if bound.errors:
                    found.append(
                        (bound.id_for_label or bound.auto_id, f"{prefix}{bound.label}", bound.errors[0])
                    )
        return found


REASON_REQUIRED = "Say why the policy changes: reviewers read it next to every gate run."


class ReasonForm(forms.Form):
    reason = forms.CharField(
        required=False,
        label="Why the policy changes",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required. Reviewers read it next to every gate run that applies this revision.",
    )
