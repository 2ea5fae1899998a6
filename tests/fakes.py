"""Stand-ins for a model, for unit tests only: the main path always runs a real one."""

from workbench.llm.base import Completion, GenParams


class FakeBackend:
    """Deterministic stand-in for a model: echoes a function of the prompt. Unit tests only."""

    def __init__(self, reply=None, model_id="fake:echo", chunk_size=4):
        self.model_id = model_id
        self.chunk_size = chunk_size
        self.calls = 0
        self.reply = reply or (lambda text: f"echo: {text}")

    def generate(self, prompts, gen: GenParams):
        self.calls += len(prompts)
        out = []
        for messages in prompts:
            text = self.reply(messages[-1]["content"])
            out.append(Completion(text, prompt_tokens=len(messages[-1]["content"].split()),
                                  completion_tokens=len(str(text).split())))
        return out


def scripted_model(prompt: str) -> str:
    """Evolves by appending a clause, answers at length, judges Not Equal — unless the seed
    asks for a particular failure."""
    if "<<Second Task>>" in prompt:
        first = prompt.split("<<First Task>>")[1].split("<<Second Task>>")[0]
        return "Equal" if "SAME" in first else "Not Equal"
    if "<<New Task>>" in prompt:
        original = prompt.split("<<Original Task>>")[1].split("<<New Task>>")[0].strip()
        if "LEAK" in original:
            return "New Task: " + original
        if "UNCHANGED" in original:
            return original
        return f"{original} Explain each step in detail."
    if "SORRY" in prompt:
        return "Sorry, I can't do that."
    if "DEGEN" in prompt:
        return "the and of ..."
    return "A careful answer " + "with detail " * 10


def note_taker(notes: list):
    """A progress tracker class that also takes notes, like the runner's progress line:
    what a generator shows about servers and batches lands in `notes`."""
    class Tracker:
        def begin(self, task, total):
            pass

        def update(self, **counts):
            pass

        def note(self, text):
            notes.append(text)

    return Tracker
