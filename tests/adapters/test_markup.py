"""The bot's own mention markers and the adapters' escaping of everything else (#13, point 6)."""

from __future__ import annotations

from bot import markup
from bot.adapters.mattermost.outbound import defuse
from bot.adapters.slack.blocks import escape

ZW = "\u200b"


def test_markers_round_trip_and_plain_reads_the_fallback() -> None:
    text = f"hi {markup.mention('slack', 'U1', '@sam')}, see you"
    assert list(markup.parts(text)) == ["hi ", markup.Mention("slack", "U1", "@sam"), ", see you"]
    assert markup.plain(text) == "hi @sam, see you"
    assert markup.plain("no markers") == "no markers"


def test_broken_or_typed_marker_characters_never_make_a_mention() -> None:
    o, s, c = markup.OPEN, markup.SEP, markup.CLOSE
    for text in (f"{o}slack{s}U1{c}", f"{o}slack{s}U1", f"{o}{o}slack{s}U1{s}x{c}x{c}"):
        assert all(isinstance(p, str) or p.fallback == "x" for p in markup.parts(text))
    typed = markup.strip(f"{o}slack{s}UEVIL{s}@x{c}")
    assert list(markup.parts(typed)) == ["slackUEVIL@x"]
    # a name with marker characters cannot break out of its own marker
    assert markup.plain(markup.mention("slack", "U1", f"@a{c}{o}slack{s}U2{s}b")) == "@aslackU2b"


def test_slack_escapes_everything_a_user_could_make_live() -> None:
    assert escape("<!channel> <!subteam^S1> <@U1|x> <#C1> <https://e|b> <mailto:a@b|c> a&b") == (
        "&lt;!channel&gt; &lt;!subteam^S1&gt; &lt;@U1|x&gt; &lt;#C1&gt; &lt;https://e|b&gt; "
        "&lt;mailto:a@b|c&gt; a&amp;b"
    )
    assert escape(markup.mention("slack", "not an id", "@x <y>")) == "@x &lt;y&gt;"


def test_mattermost_defuses_mentions_and_links_but_keeps_addresses_readable() -> None:
    assert defuse("@channel @all @here @bob,(@x)") == (
        f"@{ZW}channel @{ZW}all @{ZW}here @{ZW}bob,(@{ZW}x)"
    )
    assert defuse("mail bob@example.org or é@here") == f"mail bob@example.org or é@{ZW}here"
    assert defuse("[bank](https://evil) [a][b]\n[b]: https://evil") == (
        f"[bank]{ZW}(https://evil) [a]{ZW}[b]\n[b]{ZW}: https://evil"
    )
    assert defuse("plain [note] and @ alone") == "plain [note] and @ alone"
