"""The modern email policy, with each header parsed once per message (issue 18).

``email.policy.default`` parses a header into objects every time it is asked for: every
``msg["Subject"]``, ``get_content_type()`` or ``get_param()`` parses it again, and its header
registry builds a new class for each of those parses. ``message_policy()`` gives a policy that
behaves exactly as ``email.policy.default`` (the same header classes, parsers and defects), but
whose header factory remembers what it made from each (name, value): header objects are
immutable, so the one made first serves every later read of the same header, in the message
and, for short values, in the messages after it.
"""

from __future__ import annotations

import email.policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage

# The class the stdlib registry builds for a header (its parser class joined with
# ``BaseHeader``), built once per parser class instead of on every parse.
_CLASSES: dict[type, type[BaseHeader]] = {}


# Headers most messages share (Content-Type: text/plain; charset="utf-8", MIME-Version, the
# bot's own To), remembered across messages: short values only, and forgotten all at once
# when there are many.
_SHARED: dict[tuple[str, str], BaseHeader] = {}
_SHARED_LENGTH = 200
_SHARED_MOST = 1024


class _OncePerMessage(HeaderRegistry):
    """``HeaderRegistry`` remembering its headers: the long ones for one message's reading, then dropped."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[tuple[str, str], BaseHeader] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        parser = self.registry.get(name.lower(), self.default_class)
        cls = _CLASSES.get(parser)
        if cls is None:
            cls = _CLASSES[parser] = type("_" + parser.__name__, (parser, self.base_class), {})
        return cls

    def __call__(self, name: str, value: str) -> BaseHeader:
        key = (name, value)
        remembered = _SHARED if len(value) <= _SHARED_LENGTH else self._made
        made = remembered.get(key)
        if made is None:
            # What cannot be parsed raises here each time it is asked for, as before.
            made = self[name](name, value)
            if len(remembered) >= _SHARED_MOST and remembered is _SHARED:
                remembered.clear()
            remembered[key] = made
        return made


def message_policy() -> email.policy.EmailPolicy[EmailMessage]:
    """``email.policy.default`` with a header factory of its own, for one message (never shared)."""
    return email.policy.default.clone(header_factory=_OncePerMessage())
