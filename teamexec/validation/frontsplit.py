"""Where a markdown file's leading YAML block ends (PROTOCOL §4), by plain text.

One rule for both readers of a role-spec: validation (rolespec.py), which
then parses the YAML, and the built-in worker (prompt.py), which only needs
the body and must not pay for a YAML import. Were the two to split
differently, an agent could get a body that validation never checked.
Standard library only.
"""

from __future__ import annotations

DELIMITER = "---"
ENDS = (DELIMITER, "...")  # "..." also ends a YAML document, and so the block


def split_frontmatter(text: str) -> tuple[str, int, str, int] | None:
    """(frontmatter, its first line, body, its first line), or None without frontmatter.

    The block opens with a ``---`` line and closes with the next ``---`` or
    ``...`` line; an unterminated block is not frontmatter.
    """
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != DELIMITER:
        return None
    for index in range(1, len(lines)):
        if lines[index].strip() in ENDS:
            return "".join(lines[1:index]), 2, "".join(lines[index + 1 :]), index + 2
    return None
