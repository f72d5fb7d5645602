"""Realistic call-center transcripts to summarize: the demo's input, the same every run (seeded)."""

import json
import random
from collections.abc import Iterator

FIRST = ["Maria", "James", "Aisha", "Chen", "Olivia", "Mateo", "Priya", "Noah", "Fatima", "Lucas", "Sofia", "Ethan"]
LAST = ["Garcia", "Smith", "Khan", "Wang", "Johnson", "Rossi", "Patel", "Brown", "Haddad", "Silva", "Nguyen", "Miller"]
AGENTS = ["Dana", "Sam", "Alex", "Jordan", "Taylor", "Morgan"]
ISSUES = [
    (
        "billing",
        "I was charged twice for my monthly plan this month.",
        "I can see the duplicate charge of {amount} dollars on the {day} statement.",
        "I have refunded the duplicate charge; it will show on your card within five business days.",
    ),
    (
        "outage",
        "My internet has been down since {day} morning.",
        "There is a network outage in your area affecting about {count} customers.",
        "Engineers expect to restore service by tonight, and I have credited two days to your account.",
    ),
    (
        "delivery",
        "My router was supposed to arrive on {day} but it never came.",
        "The carrier marked the package as delayed at the regional depot.",
        "I have sent a replacement by express shipping at no cost; it arrives in two days.",
    ),
    (
        "password",
        "I am locked out of my online account after a password reset.",
        "The account was locked after {count} failed sign-in attempts.",
        "I unlocked the account and sent a secure reset link to the email on file.",
    ),
    (
        "upgrade",
        "I want to upgrade to a faster plan but keep my current price.",
        "You qualify for the loyalty offer because you have been with us for {count} years.",
        "I moved you to the faster plan at a {amount} dollar monthly discount for twelve months.",
    ),
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
PROMPT = (
    "Summarize the following customer service call in three sentences: the customer's problem, "
    "what the agent found, and how it was resolved.\n\n"
)


def transcript(rng: random.Random) -> tuple[str, str]:
    customer = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    agent = rng.choice(AGENTS)
    topic, problem, finding, resolution = rng.choice(ISSUES)
    values = {"amount": rng.randint(15, 120), "day": rng.choice(DAYS), "count": rng.randint(3, 900)}
    lines = [
        f"Agent ({agent}): Thank you for calling Northwind Telecom, my name is {agent}. How can I help you today?",
        f"Customer ({customer}): Hi. {problem.format(**values)}",
        f"Agent ({agent}): I am sorry to hear that. Can you confirm the account holder's name?",
        f"Customer ({customer}): It is {customer}.",
        f"Agent ({agent}): Thank you. {finding.format(**values)}",
        f"Customer ({customer}): That is frustrating. What can you do about it?",
        f"Agent ({agent}): {resolution.format(**values)}",
        f"Customer ({customer}): Thank you, that solves my problem.",
        f"Agent ({agent}): You are welcome. Is there anything else I can help with today?",
        f"Customer ({customer}): No, that is all. Goodbye.",
    ]
    return topic, "\n".join(lines)


def records(file_number: int, count: int, seed: int = 2026) -> Iterator[dict[str, object]]:
    rng = random.Random(seed * 1000 + file_number)
    for index in range(count):
        _, text = transcript(rng)
        yield {
            "recordId": f"CALL{file_number:02d}{index:05d}",
            "modelInput": {
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": 300,
                "messages": [{"role": "user", "content": [{"type": "text", "text": PROMPT + text}]}],
            },
        }


def jsonl_file(file_number: int, count: int) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records(file_number, count)).encode()


def ticket_text(number: int, seed: int = 2026) -> str:
    """A support ticket's text: the customer's lines of a generated call, in the first person."""
    _, text = transcript(random.Random(seed * 7 + number))
    said = [line.split("): ", 1)[1] for line in text.splitlines() if line.startswith("Customer")]
    return said[0].removeprefix("Hi. ")
