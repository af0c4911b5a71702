"""Free text the bot cannot place: helpful answers, suggestions from the NLU's ranking."""

from pathlib import Path

from bot.testing import TestBot


def nlu_bot(tmp_path: Path, model_dir: Path) -> TestBot:
    return TestBot.create(
        tmp_path,
        load_nlu=True,
        overrides={"nlu": {"backend": "embedded", "model_dir": str(model_dir)}},
    )


async def test_fallback_suggests_the_closest_intents_and_greetings_are_answered(
    tmp_path: Path, nlu_model_dir: Path
) -> None:
    async with nlu_bot(tmp_path, nlu_model_dir) as bot:
        (vague,) = await bot.say("alice", "can u do sth about my storage")
        assert vague.text.startswith("I'm not sure what you mean. Did you want to:")
        assert "more storage space" in vague.text
        (thanks,) = await bot.say("alice", "thanks a lot!")
        assert thanks.text == "You're welcome, alice!"
        (hello,) = await bot.say("alice", "hi there")
        assert hello.text.startswith("Hello alice!")
        (odd,) = await bot.say("alice", "what's the capital of mongolia")
        assert "didn't understand" in odd.text or "not sure what you mean" in odd.text
        assert "help" in odd.text


async def test_when_the_model_cannot_answer_commands_still_work(
    tmp_path: Path, free_port: int
) -> None:
    overrides = {
        "nlu": {"backend": "rasa", "rasa_url": f"http://127.0.0.1:{free_port}", "rasa_timeout": 1}
    }
    async with TestBot.create(tmp_path, load_nlu=True, overrides=overrides) as bot:
        (reply,) = await bot.say("alice", "I need 5TB more on /scratch/neuro")
        assert "can't understand free text right now" in reply.text
        assert (await bot.say("alice", "ping"))[0].text == "pong"
        assert bot.app.stats.nlu_unavailable == 1


async def test_understood_but_not_set_up_here_says_so(tmp_path: Path, nlu_model_dir: Path) -> None:
    """Issue #12 item 7: a confident intent that no skill of this site handles is named back,
    with what the model saw, instead of "I didn't understand"."""
    async with nlu_bot(tmp_path, nlu_model_dir) as bot:
        (drain,) = await bot.say("olga", "drain c[001-004] for maintenance")
        assert drain.text.startswith(
            "I understood that you want to drain, resume, reboot or check nodes (node "
        )
        assert "(node c001, c002, c003, c004)" in drain.text
        assert "this site hasn't set that up in me yet" in drain.text
        # VMs are a skill now (skills/vms.py): without a provider it says what is missing
        (vm,) = await bot.say("alice", "spin up a VM please")
        assert vm.text == "No VM provider is configured here; an admin sets one under `providers:`."


TINY = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello
    - good morning
    - hey there
- intent: help
  examples: |
    - what can you do
    - help me
    - how do I use you
    - what are your commands
- intent: out_of_scope
  examples: |
    - what's the weather
    - tell me a joke
    - order a pizza
    - who won the match
"""


async def test_free_text_while_the_model_trains_gets_a_notice_then_the_answer(
    tmp_path: Path,
) -> None:
    """Issue #12 item 13: on a first start the model trains for seconds; a free-text message
    meanwhile is told so at once (commands work), then answered."""
    data = tmp_path / "nlu-data"
    data.mkdir()
    (data / "nlu.yml").write_text(TINY, encoding="utf-8")
    (data / "config.yml").write_text("embedded:\n  intent:\n    folds: 2\n", encoding="utf-8")
    overrides = {
        "nlu": {
            "backend": "embedded",
            "data": str(data),
            "model_dir": str(tmp_path / "fresh-model"),
        }
    }
    bot = TestBot.create(tmp_path, load_nlu=True, overrides=overrides, wait_for_nlu=False)
    async with bot:
        assert bot.app.understanding.loading  # a fresh model dir: it is training
        (pong,) = await bot.say("alice", "ping")
        assert pong.text == "pong"
        notice, answer = await bot.say("alice", "hello there")
        assert notice.text.startswith("One moment: I'm still learning to read free text")
        assert answer.text.startswith("Hello alice!")
        (later,) = await bot.say("alice", "good morning")  # trained now: no notice
        assert later.text.startswith("Hello alice!")
