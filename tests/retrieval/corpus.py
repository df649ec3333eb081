"""A generated corpus of runbooks, and the questions each answers, for retrieval quality.

Each of the ``count`` documents is the runbook of one made-up service: its name (made of
syllables, unique), its error code (``ERR-4200`` + its number; it also names the next code,
which it is not about, so that codes have near misses), a distinctive incident (a component
that fails, and what to do), and filler sentences shared by all documents. Questions come in
three kinds, each answered by one document:

* ``code``: "What does ERR-4411 mean?" (an exact identifier: keyword search is strong);
* ``misspelled``: the service's name with a typo, and words of its runbook (keyword search
  finds no such word; character trigrams of the embedding still match);
* ``paraphrase``: the incident in other word forms ("configured" for "configuring"...) and
  order (few whole words in common with the document).
"""

from __future__ import annotations

import random

import attrs

SYLLABLES = (
    "ka", "lo", "vin", "tre", "mos", "dar", "pel", "qui", "zan", "rho", "bex", "sul",
    "nor", "fae", "gid", "hum", "jor", "lys", "mar", "tov", "wen", "yul", "cra", "dov",
)  # fmt: skip
COMPONENTS = (
    ("replication cluster", "replicated clusters"),
    ("certificate rotation", "rotating certificates"),
    ("billing export", "exporting bills"),
    ("search indexer", "indexing searches"),
    ("payment gateway", "gateways for payments"),
    ("message queue", "queued messages"),
    ("thumbnail renderer", "rendering thumbnails"),
    ("session cache", "cached sessions"),
    ("audit logger", "logging audits"),
    ("backup scheduler", "scheduled backups"),
    ("email dispatcher", "dispatching emails"),
    ("geolocation lookup", "looking up geolocations"),
)
FAILURES = (
    ("stalls", "stalling"),
    ("overheats", "overheating"),
    ("desynchronizes", "desynchronized"),
    ("corrupts its journal", "corrupted journals"),
    ("rejects connections", "rejecting connections"),
)
ACTIONS = (
    ("drain the node and reconfigure it", "reconfiguring after draining nodes"),
    ("rotate the credentials", "credentials rotated"),
    ("restore yesterday's snapshot", "restoring snapshots from yesterday"),
    ("escalate to the storage team", "escalating to storage teams"),
    ("throttle the incoming traffic", "throttling incoming traffic"),
)
FILLER = (
    "Keep the on-call channel informed while you work.",
    "Every change is recorded in the change log.",
    "Dashboards show latency, errors and saturation.",
    "Alerts page the primary engineer first.",
    "Capacity is reviewed every quarter.",
    "Deployments happen during business hours only.",
    "Runbooks are reviewed after each incident.",
    "Access requires a hardware key.",
    "Metrics are kept for thirteen months.",
    "The service level objective is ninety-nine point nine percent.",
)


@attrs.frozen
class Document:
    number: int
    name: str
    code: str
    filename: str
    text: str
    incident: tuple[int, int, int]


@attrs.frozen
class Question:
    kind: str
    text: str
    answer: int  # the number of the document that answers it


def _name(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()
        if name not in taken:
            taken.add(name)
            return name


def _misspell(name: str, rng: random.Random) -> str:
    at = rng.randrange(1, len(name) - 1)
    return name[:at] + name[at] + name[at:]  # a doubled letter


def build(count: int = 300, seed: int = 4411) -> tuple[list[Document], list[Question]]:
    rng = random.Random(seed)
    taken: set[str] = set()
    documents: list[Document] = []
    questions: list[Question] = []
    for number in range(count):
        name = _name(rng, taken)
        code = f"ERR-{4200 + number}"
        incident = (
            rng.randrange(len(COMPONENTS)),
            rng.randrange(len(FAILURES)),
            rng.randrange(len(ACTIONS)),
        )
        component, failure, action = (
            COMPONENTS[incident[0]][0],
            FAILURES[incident[1]][0],
            ACTIONS[incident[2]][0],
        )
        filler = " ".join(rng.sample(FILLER, 4))
        text = (
            f"# {name} runbook\n\n"
            f"{name} runs the {component} of the platform. {filler}\n\n"
            f"## Error {code}\n\n"
            f"{code} is raised by {name} when the {component} {failure}. "
            f"It is not the same as ERR-{4201 + number}. "
            f"When that happens, {action}.\n\n"
            f"## Contacts\n\nThe {name} team answers in its channel. "
            + " ".join(rng.sample(FILLER, 3))
        )
        documents.append(Document(number, name, code, f"{name.lower()}-runbook.md", text, incident))
        questions.append(Question("code", f"What does {code} mean?", number))
        questions.append(Question("misspelled", f"{_misspell(name, rng)} runbook contacts", number))
    # Paraphrases only where the incident is unique in the corpus (else several documents
    # answer them equally).
    seen: dict[tuple[int, int, int], list[int]] = {}
    for document in documents:
        seen.setdefault(document.incident, []).append(document.number)
    for incident, numbers in sorted(seen.items()):
        if len(numbers) != 1:
            continue
        component, failure, action = (
            COMPONENTS[incident[0]][1],
            FAILURES[incident[1]][1],
            ACTIONS[incident[2]][1],
        )
        questions.append(Question("paraphrase", f"{action} — {failure} {component}?", numbers[0]))
    return documents, questions
