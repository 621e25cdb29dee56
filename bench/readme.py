"""Rewrite one benchmark's section of bench/README.md (between its start and end markers),
leaving the other benchmarks' sections as they are."""

from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"
INTRO = "# Benchmarks\n\nOne script per benchmark; results in `results/*.json`.\n"


def replace_section(name: str, lines: list[str]) -> None:
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    section = "\n".join([start, *lines, end])
    text = README.read_text() if README.exists() else INTRO
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    README.write_text(text)
