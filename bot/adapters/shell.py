"""The shell adapter: the embedded default, a terminal chat and a transcript runner.

Interactive mode (``quartermaster run``) gives line editing and history through prompt_toolkit;
script mode (``quartermaster chat --script``) reads a transcript and prints the bot's side.
Numbered choices survive across invocations: the last ones offered in each channel are kept in
the key-value store (namespace ``shell.choices``) for ``CHOICES_TTL``.
"""

from __future__ import annotations

import getpass
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot import markup
from bot.adapters.memory import MemoryAdapter, Sent, dm_channel
from bot.conversations import ConversationKey
from bot.events import Choice, Interaction, Message, PostedRef
from bot.logs import redact
from bot.transcript import Said, TranscriptError, format_message, parse_line

if TYPE_CHECKING:
    from bot.app import Application

CHOICES_NAMESPACE = "shell.choices"
#: how long a numbered answer still finds the choices it picks from
CHOICES_TTL = timedelta(days=30)
_NUMBER = re.compile(r"^\s*(\d{1,2})\s*$")


def guarded_history(path: str, keep: Callable[[str], bool]) -> Any:
    """prompt_toolkit's FileHistory that writes a line to disk only if ``keep(line)``, into a
    file created 0600 (what the local user typed is nobody else's business)."""
    from prompt_toolkit.history import FileHistory

    from bot.private import private_file

    private_file(Path(path))

    class GuardedHistory(FileHistory):
        def store_string(self, string: str) -> None:
            if keep(string):
                super().store_string(string)

    return GuardedHistory(path)


def local_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return os.environ.get("USER", "me")


class ShellAdapter(MemoryAdapter):
    platform = "shell"

    def __init__(self, app: Application, out: TextIO | None = None) -> None:
        super().__init__(app)
        self.app: Application = app  # the embedded adapter drives the whole app (scripts)
        self.out = out or sys.stdout
        cfg = app.settings.adapters.shell
        self.user = cfg.user or local_user()
        self.speaker: str | None = None
        self._mention = re.compile(rf"(^|\s)@{re.escape(app.name)}\b[:,]?\s*", re.IGNORECASE)
        self.choices = app.kv.namespace(CHOICES_NAMESPACE, ttl=CHOICES_TTL)
        #: this run's mark in message ids: a request card posted by an earlier run (its id kept
        #: in the database) is never mistaken for one of this run's messages
        self.run = f"{time.time_ns() // 1_000_000:x}"

    def new_id(self) -> str:
        return f"{super().new_id()}.{self.run}"

    async def connect(self) -> None:
        cfg = self.app.settings.adapters.shell
        if cfg.admin:
            await self.app.roles.grant(f"shell:{self.user}", "admin", by="shell", source="config")
        self.connected = True

    # -- output --------------------------------------------------------------------------------
    def _prefix(self, sent: Sent) -> str:
        if sent.dm_to is not None:
            return "bot>" if sent.dm_to == self.speaker else f"bot->{sent.dm_to}>"
        return f"bot@{sent.channel}>"

    def on_sent(self, sent: Sent) -> None:
        print(format_message(self._prefix(sent), sent.text, sent.labels), file=self.out, flush=True)

    def on_changed(self, sent: Sent) -> None:
        note = "(deleted a message)" if sent.deleted else "(updated) " + sent.text
        print(
            format_message(self._prefix(sent), note, None if sent.deleted else sent.labels),
            file=self.out,
            flush=True,
        )

    async def update(self, ref: PostedRef, text: str, *, choices: Sequence[Choice] = ()) -> None:
        """A message an earlier run posted is gone from the terminal: show the new text as an
        update where it was posted (not an error, which background work would retry)."""
        if ref.id in self.by_id:
            await super().update(ref, text, choices=choices)
            return
        dm_to = ref.channel[3:] if ref.channel.startswith("dm:") else None
        earlier = Sent(ref, markup.plain(text), tuple(choices), dm_to)
        self.on_changed(earlier)

    async def send(
        self, channel: str, text: str, *, thread: str | None = None, choices: Sequence[Choice] = ()
    ) -> PostedRef:
        ref = await super().send(channel, text, thread=thread, choices=choices)
        if choices:
            await self._remember_choices(channel, self.by_id[ref.id])
        return ref

    async def send_dm(
        self, user_id: str, text: str, *, choices: Sequence[Choice] = ()
    ) -> PostedRef:
        ref = await super().send_dm(user_id, text, choices=choices)
        if choices:
            await self._remember_choices(dm_channel(user_id), self.by_id[ref.id])
        return ref

    async def _remember_choices(self, channel: str, sent: Sent) -> None:
        state = {
            "message_id": sent.ref.id,
            "dm": sent.dm_to is not None,
            "choices": [[c.label, c.action, c.value] for c in sent.choices],
        }
        await self.choices.set(channel, state)

    # -- input ---------------------------------------------------------------------------------
    async def to_event(self, said: Said) -> Message | Interaction:
        direct = said.channel is None
        channel = dm_channel(said.user) if direct else str(said.channel)
        number = _NUMBER.match(said.text)
        if number is not None:
            offered = await self.choices.get(channel)
            index = int(number.group(1)) - 1
            if offered and 0 <= index < len(offered["choices"]):
                _label, action, value = offered["choices"][index]
                return Interaction(
                    self.platform,
                    said.user,
                    said.user,
                    channel,
                    action,
                    value,
                    message_id=offered["message_id"],
                    direct=direct,
                )
        text = said.text
        mentioned = False
        if not direct and self._mention.search(text):
            mentioned = True
            text = self._mention.sub(" ", text).strip()
        return Message(
            self.platform,
            said.user,
            said.user,
            channel,
            text,
            direct=direct,
            mentioned=mentioned,
            id=f"in{said.lineno}",
        )

    async def say(self, said: Said) -> None:
        self.speaker = said.user
        await self.app.process(await self.to_event(said))

    async def say_as_local(self, text: str) -> None:
        """A DM from the local user, as typed at the interactive prompt."""
        await self.say(Said(self.user, None, text, 0))

    async def run_script(self, lines: Iterable[str], err: TextIO | None = None) -> int:
        """Feed a transcript; 0 if every line was handled, 1 on handler errors, 2 on bad lines."""
        err = err or sys.stderr
        bad = 0
        errors_before = self.app.stats.errors
        # what an earlier run left (outbox rows, owed actions) goes first, so that a transcript
        # sees the same bot every time, however fast it is fed
        await self.app.deliveries.deliver_due()
        await self.app.background.idle()
        for lineno, line in enumerate(lines, start=1):
            try:
                said = parse_line(line, lineno)
            except TranscriptError as exc:
                print(f"quartermaster chat: {exc}", file=err)
                bad += 1
                continue
            if said is not None:
                await self.say(said)
                # what the line set off (notices, card updates) is printed before the next line
                await self.app.background.idle()
        await self.app.dispatcher.join()
        if bad:
            return 2
        return 1 if self.app.stats.errors > errors_before else 0

    def keep_in_history(self, line: str) -> bool:
        """Never write a pasted secret to the history file: nothing secret-looking, and nothing
        typed while the bot waits for a value to seal."""
        if redact(line) != line:
            return False
        state = self.app.conversations.peek(
            ConversationKey(self.platform, dm_channel(self.user), None, self.user)
        )
        return not (state and str(state.get("followup", "")).startswith("vault."))

    async def run_interactive(self) -> None:
        """A terminal chat as the local user; `alice> …` and `alice@general> …` also work."""
        from prompt_toolkit import PromptSession
        from prompt_toolkit.patch_stdout import patch_stdout

        from bot.paths import data_dir

        history = self.app.settings.adapters.shell.history_file or data_dir() / "shell_history"
        session: PromptSession[str] = PromptSession(
            history=guarded_history(str(history), self.keep_in_history)
        )
        print(
            f"Quartermaster shell — you are {self.user} (DM to the bot). Type `help`, or "
            "`alice@general> @quartermaster …` to speak as someone else; Ctrl-D quits.",
            file=self.out,
        )
        with patch_stdout():
            while True:
                try:
                    line = await session.prompt_async(f"{self.user}> ")
                except (EOFError, KeyboardInterrupt):
                    return
                if not line.strip():
                    continue
                try:
                    said = parse_line(line) if re.match(r"^[\w.-]+(@[\w.-]+)?> ", line) else None
                except TranscriptError:
                    said = None
                if said is None:
                    await self.say_as_local(line.strip())
                else:
                    await self.say(said)
