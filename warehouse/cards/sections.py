"""The written sections of a model card, in reading order. Evidence sections are generated, never typed."""

from django.db.models import TextChoices


class Section(TextChoices):
    TASK = "task", "Task"
    # Who uses the model and what they decide with it: what a product lead must know before anything else.
    INTENDED_USERS = "intended_users", "Intended users"
    DECISION_INFLUENCED = "decision_influenced", "Decision influenced"
    OUT_OF_SCOPE = "out_of_scope", "Out of scope"
    DATA_SUMMARY = "data_summary", "Data summary"
    EVALUATION_NOTES = "evaluation_notes", "Evaluation notes"
    KNOWN_FAILURES = "known_failures", "Known failures"
    LATENCY_COST_NOTES = "latency_cost_notes", "Latency and cost notes"
    ETHICAL_CONSIDERATIONS = "ethical_considerations", "Ethical considerations and caveats"
    OWNERS_CONTACTS = "owners_contacts", "Owners and contacts"


# Headings people write for each section, lower-cased, when a card arrives as one Markdown document.
HEADING_ALIASES: dict[str, Section] = {
    **{section.label.lower(): section for section in Section},
    "intended use": Section.TASK,
    "intended uses": Section.TASK,
    "uses": Section.TASK,
    "users": Section.INTENDED_USERS,
    "primary intended users": Section.INTENDED_USERS,
    "intended user": Section.INTENDED_USERS,
    "decision": Section.DECISION_INFLUENCED,
    "decisions influenced": Section.DECISION_INFLUENCED,
    "decision influenced by the model": Section.DECISION_INFLUENCED,
    "decisions": Section.DECISION_INFLUENCED,
    "out-of-scope use": Section.OUT_OF_SCOPE,
    "out of scope use": Section.OUT_OF_SCOPE,
    "training data": Section.DATA_SUMMARY,
    "data": Section.DATA_SUMMARY,
    "evaluation": Section.EVALUATION_NOTES,
    "limitations": Section.KNOWN_FAILURES,
    "bias, risks, and limitations": Section.ETHICAL_CONSIDERATIONS,
    "ethical considerations": Section.ETHICAL_CONSIDERATIONS,
    "caveats": Section.ETHICAL_CONSIDERATIONS,
    "latency and cost": Section.LATENCY_COST_NOTES,
    "owners": Section.OWNERS_CONTACTS,
    "contacts": Section.OWNERS_CONTACTS,
    "contact": Section.OWNERS_CONTACTS,
}
