"""A generated corpus of office handbooks, and ten questions each answered by one of them.

Every handbook follows one template (the same headings and shared sentences, so that most of
its words are in every other one) and differs in its facts: the city, the Wi-Fi network, the
parking gate code, the facilities manager, the Friday closing time and the floor of the mail
room. The last two repeat across offices, so only the city tells them apart, and each handbook
names another office's city too (its visitors'), a near miss for a question naming that city.
Questions ask for one fact in other words than the handbook's, some naming the city, some naming
only a value that one handbook holds (a network, a manager), as a newcomer would ask. The
corpus and the questions are the same on every run (seeded).
"""

from __future__ import annotations

import random

import attrs

CITIES = (
    "Lisbon", "Porto", "Seville", "Valencia", "Bilbao", "Lyon", "Nantes", "Toulouse",
    "Geneva", "Basel", "Munich", "Leipzig", "Hamburg", "Bremen", "Utrecht", "Ghent",
    "Antwerp", "Aarhus", "Malmo", "Bergen", "Tampere", "Tallinn", "Riga", "Vilnius",
    "Krakow", "Gdansk", "Brno", "Graz", "Ljubljana", "Zagreb", "Trieste", "Bologna",
    "Turin", "Naples", "Palermo", "Athens", "Cork", "Galway", "Cardiff", "Leeds",
)  # fmt: skip
ADJECTIVES = ("amber", "quiet", "brisk", "silver", "lunar", "copper", "misty", "tidal")
ANIMALS = ("heron", "otter", "lynx", "falcon", "badger", "marten", "ibis", "puffin")
FIRST_NAMES = ("Ines", "Tomas", "Greta", "Omar", "Lena", "Pavel", "Saoirse", "Yusuf", "Maren")
LAST_NAMES = ("Duarte", "Kowalski", "Lindqvist", "Haddad", "Moreau", "Novak", "Brennan", "Aalto")
CLOSING = ("four", "half past four", "five", "half past five")
SHARED = (
    "Visitors sign in at the front desk and wear a badge at all times.",
    "The kitchen is cleaned every evening; label what you leave in the fridge.",
    "Meeting rooms are booked through the calendar, for at most two hours.",
    "Report a broken chair or lamp to facilities through the help desk.",
    "Fire drills happen twice a year and everyone leaves by the nearest stairs.",
    "Printers need your badge; scanned documents arrive in your mailbox.",
)


@attrs.frozen
class Handbook:
    number: int
    city: str
    filename: str
    text: str
    network: str
    gate_code: str
    manager: str


@attrs.frozen
class Question:
    text: str
    answer: int  # the number of the handbook that answers it


def build(count: int = 40, seed: int = 2312) -> tuple[list[Handbook], list[Question]]:
    """``count`` handbooks (at most one per city) and ten questions over them."""
    rng = random.Random(seed)
    networks = rng.sample([f"{a}-{b}" for a in ADJECTIVES for b in ANIMALS], count)
    managers = rng.sample([f"{f} {s}" for f in FIRST_NAMES for s in LAST_NAMES], count)
    codes = rng.sample(range(1000, 10000), count)
    handbooks = []
    for number, city in enumerate(CITIES[:count]):
        network, manager, code = networks[number], managers[number], str(codes[number])
        closing, floor = rng.choice(CLOSING), rng.randrange(1, 6)
        shared = rng.sample(SHARED, 4)
        text = (
            f"# {city} office handbook\n\n"
            f"Welcome to the {city} office. {shared[0]} {shared[1]}\n\n"
            f"## Getting in\n\n"
            f"The car park gate opens with code {code}. On Fridays the {city} office closes "
            f"at {closing} in the afternoon. {shared[2]}\n\n"
            f"## Network and post\n\n"
            f"Connect to the Wi-Fi network {network}; the password is on the board by the "
            f"lifts. Colleagues visiting from {CITIES[(number + 1) % count]} use the guest "
            f"network. Parcels wait in the mail room on floor {floor}.\n\n"
            f"## People\n\n"
            f"{manager} is the facilities manager of the {city} office. {shared[3]}\n"
        )
        handbooks.append(
            Handbook(number, city, f"{city.lower()}-handbook.md", text, network, code, manager)
        )
    asked = rng.sample(handbooks, 10)
    phrasings = (
        lambda h: f"What is the code for the parking gate in {h.city}?",
        lambda h: f"Who looks after facilities at our {h.city} office?",
        lambda h: f"Which office has the wifi called {h.network}?",
        lambda h: f"How early does {h.city} shut on a Friday?",
        lambda h: f"Where do I ask {h.manager} about a broken chair, which office?",
    )
    questions = [Question(phrasings[n % len(phrasings)](h), h.number) for n, h in enumerate(asked)]
    return handbooks, questions
