"""What each stage is told: extraction, the re-ask, and reasoning over the facts."""

from __future__ import annotations

from agentrun.agents import roles
from agentrun.agents.messages import Message
from agentrun.text.quotes import number_sentences


def extraction_messages(prompting: str, query: str, chunk: str, source: int) -> list[Message]:
    if prompting == "answer-span":
        return [
            {"role": "system", "content": "You answer questions from the text you are given."},
            {
                "role": "user",
                "content": f"Text:\n{chunk}\n\nQuestion: {query}\n"
                "If the text answers the question, reply with the answer in a few words copied "
                f"from the text. If it does not, reply {roles.NONE}.",
            },
        ]
    if prompting == "references":
        numbered = number_sentences(chunk).render()
        return [
            {
                "role": "system",
                "content": "You find the sentences of a text that answer a question.",
            },
            {
                "role": "user",
                "content": f"Passage c{source}:\n{numbered}\n\nQuestion: {query}\n"
                "Reply with the numbers of the sentences that help answer the question, each in "
                f"brackets, such as [n]. If no sentence helps, reply {roles.NONE}.",
            },
        ]
    ask = (
        "List the sentences of the passage needed to answer the question, each copied exactly, "
        "character for character, with the passage id. If none helps, return an empty list."
        if prompting == "structured"
        else "Copy the sentences of the passage that help answer the question, word for word, "
        f'one per line, each starting with "- ". If no sentence helps, reply {roles.NONE}.'
    )
    return [
        {"role": "system", "content": "You find the sentences of a text that answer a question."},
        {"role": "user", "content": f"Passage c{source}:\n{chunk}\n\nQuestion: {query}\n{ask}"},
    ]


def reask_message(prompting: str, missing: list[str], source: int) -> Message:
    if prompting == "references":
        listed = "\n".join(f"- {item}" for item in missing)
        content = (
            f"These are not numbered sentences of passage c{source}:\n{listed}\nReply with the "
            f"numbers of the sentences that help, each in brackets, or {roles.NONE} if none does."
        )
    elif prompting == "answer-span":
        content = (
            f'The words "{missing[0]}" do not appear in the text. Reply with the answer copied '
            f"exactly from the text, or {roles.NONE} if the text does not answer the question."
        )
    else:
        listed = "\n".join(f'- "{quote}"' for quote in missing)
        content = (
            f"These quotes are not in passage c{source}:\n{listed}\n"
            "Copy each supporting sentence exactly as it is written in the passage, or leave it "
            "out" + (f"; reply {roles.NONE} if none is left." if prompting == "quotes" else ".")
        )
    return {"role": "user", "content": content}


def reasoning_messages(prompting: str, query: str, facts: str, text: str) -> list[Message]:
    """Stage 2 (and direct answering, with `facts` empty)."""
    source = "facts" if facts else "text"
    if prompting == "references" and facts and not text:
        return roles.citing_answerer(query, facts)
    if prompting != "structured":
        material = f"{facts}\n\nText:\n{text}" if facts and text else facts or text
        return roles.answerer(query, material, context_name=source.capitalize())
    parts = ([f"Facts:\n{facts}"] if facts else []) + ([f"Text:\n{text}"] if text else [])
    cite = "Give the ids of the facts you used and one sentence saying why. " if facts else ""
    return [
        {"role": "system", "content": f"You answer questions from the {source} given, only."},
        {
            "role": "user",
            "content": "\n\n".join(parts) + f"\n\nQuestion: {query}\nAnswer from the {source} "
            f"only, in a few words. {cite}If the {source} do not answer the question, set "
            "answer to null and say why.",
        },
    ]
