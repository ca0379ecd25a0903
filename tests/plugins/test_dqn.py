"""Lesson 405 DQN: a Q-network learns CartPole from replayed transitions, one episode per loop step."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

import zoo_core
from zoo_core.cli import cli
from zoo_core.config.resolver import resolve
from zoo_core.training.loop import Interrupted
from zoo_plugins.dqn.lesson import QNet, ReplayMemory, make_env, play, shaped_reward

PNG = b"\x89PNG\r\n\x1a\n"
# A small memory and short episodes, so learning starts after a few episodes and a run takes seconds.
SHORT = ["memory_size=200", "max_episode_steps=200", "eval_max_steps=200"]
EPISODES = 40


def short_run(out, steps=EPISODES, seed=0, **kwargs):
    return zoo_core.train(
        "dqn", steps=steps, seed=seed, sets=SHORT, out=out, device="cpu", quiet=True, **kwargs
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return short_run(tmp_path_factory.mktemp("dqn") / "run")


def random_policy_reward(seeds, max_steps=200):
    """CartPole's reward of uniformly random actions from the given starting seeds (the baseline)."""
    env, gen, lengths = make_env(), torch.Generator().manual_seed(0), []
    for seed in seeds:
        env.reset(seed=seed)
        moves, fallen = 0, False
        while moves < max_steps and not fallen:
            fallen = env.step(int(torch.randint(0, 2, (), generator=gen)))[2]
            moves += 1
        lengths.append(moves)
    return sum(lengths) / len(lengths)


def test_entry_recipe_is_the_tutorials():
    entry = zoo_core.get_model("dqn")
    assert entry.defaults == {"n_states": 4, "n_actions": 2, "n_hidden": 50}
    assert (entry.dataset, entry.optimizer, entry.trainer) == ("cartpole", "adam", "dqn")
    assert entry.recipe["lr"] == 0.01 and entry.recipe["batch_size"] == 1
    trainer = zoo_core.get_trainer("dqn").defaults
    assert (trainer["memory_size"], trainer["minibatch"], trainer["gamma"]) == (2000, 32, 0.9)
    assert (trainer["epsilon"], trainer["target_every"], trainer["mask_terminal"]) == (0.1, 100, False)
    assert zoo_core.get_dataset("cartpole").defaults["episodes"] == 400
    config = resolve("dqn")
    assert config.loop.epochs == 1 and not config.loop.shuffle  # 400 episodes, in order


def test_net_starts_from_the_lessons_weights():
    torch.manual_seed(0)
    net = QNet()
    assert net(torch.zeros(3, 4)).shape == (3, 2)
    assert (
        0.08 < float(net.fc1.weight.detach().std()) < 0.12
        and 0.05 < float(net.out.weight.detach().std()) < 0.15
    )


def test_shaped_reward_is_highest_centred_and_upright():
    env = make_env()
    assert shaped_reward(env, [0.0, 0.0, 0.0, 0.0]) == pytest.approx(0.7)
    assert shaped_reward(env, [env.x_threshold, 0, env.theta_threshold_radians, 0]) == pytest.approx(-1.3)


def test_replay_memory_overwrites_the_oldest_and_samples_from_the_seed():
    memory = ReplayMemory(3, 2)
    for i in range(5):
        memory.add([i, i], i % 2, float(i), [i + 1, i + 1], i == 4)
    assert memory.stored == 5
    assert memory.rewards.tolist() == [3.0, 4.0, 2.0]  # slots 0 and 1 were overwritten
    assert memory.terminals.tolist() == [False, True, False]
    a = memory.sample(8, torch.Generator().manual_seed(1))
    b = memory.sample(8, torch.Generator().manual_seed(1))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True)) and a[0].shape == (8, 2)
    copy = ReplayMemory(3, 2)
    copy.load_state_dict(memory.state_dict())
    assert copy.stored == 5 and torch.equal(copy.next_states, memory.next_states)


def test_episodes_come_from_the_run_seed_and_evaluation_seeds_are_fixed():
    data = zoo_core.create_dataset("cartpole", seed=0)
    (train,) = data.train.tensors
    assert train.shape == (400,) and len(set(train.tolist())) == 400
    assert data.eval.tensors[0].tolist() == list(range(10_000, 10_010))
    other = zoo_core.create_dataset("cartpole", seed=1)
    assert not torch.equal(other.train.tensors[0], train)
    assert torch.equal(other.eval.tensors[0], data.eval.tensors[0])
    assert data.info["observation_size"] == 4 and data.info["actions"] == 2


def test_a_short_run_learns(run):
    """40 episodes (learning from the 19th) take the greedy policy far beyond random actions."""
    assert run.step == EPISODES and len(run.history) == EPISODES  # one row per episode
    first = run.history[0]
    assert {"episode_reward", "episode_length", "epsilon"} <= set(first) and "loss" not in first
    assert "loss" in run.history[-1]  # learning began once the memory had filled
    seeds = list(range(10_000, 10_010))
    baseline = random_policy_reward(seeds)
    assert 15 < baseline < 35
    assert run.metrics["eval_reward"] > 3 * baseline, (run.metrics, baseline)
    assert run.metrics["eval_reward"] == sum(len(play(run.model, s, 200)) - 1 for s in seeds) / 10
    assert (run.run_dir / "episodes.png").read_bytes().startswith(PNG)
    assert "episodes.png" in run.files


def test_zoo_eval_rebuilds_the_greedy_policy(run):
    out = CliRunner().invoke(cli, ["eval", str(run.run_dir), "--device", "cpu", "--json"])
    assert out.exit_code == 0, out.output
    assert f'"eval_reward": {run.metrics["eval_reward"]}' in out.output


def test_same_seed_same_episodes(run, tmp_path):
    again = short_run(tmp_path / "again", steps=20)  # learning has begun by episode 20
    assert "loss" in again.history[-1]
    played = [{k: v for k, v in row.items() if not k.startswith("eval_")} for row in again.history]
    assert played == run.history[:20]  # rewards, lengths and losses, exactly


def test_resume_is_bit_identical(run, tmp_path):
    """Interrupted after 25 episodes (learning under way) and resumed, the run ends as an unbroken one."""

    def interrupt(step):
        if step == 25:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted):
        short_run(tmp_path / "cut", on_step=interrupt)
    resumed = zoo_core.train("dqn", resume=tmp_path / "cut", device="cpu", quiet=True)
    assert "loss" in resumed.history[24]  # the memory was full, so the cut fell inside learning
    assert resumed.history == run.history
    whole, again = run.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(whole[k], again[k]) for k in whole)


@pytest.mark.parametrize("mask", [False, True])
def test_terminal_states_are_masked_only_on_request(mask):
    """The lesson bootstraps through the pole's fall; ``mask_terminal`` makes the target just r there."""
    torch.manual_seed(0)
    model = QNet()
    trainer = zoo_core.create_trainer("dqn", memory_size=4, minibatch=4, mask_terminal=mask)
    opt = zoo_core.Optimization(trainer.configure_optimizers(model, lambda p: torch.optim.SGD(p, lr=0.0)))
    for i in range(4):
        trainer.memory.add([0.1 * i] * 4, i % 2, 0.5, [0.2] * 4, True)
    gen = torch.Generator().manual_seed(0)
    states, actions, rewards, next_states, _ = trainer.memory.sample(4, torch.Generator().manual_seed(0))
    loss = trainer.learn(model, opt, gen)
    with torch.no_grad():
        q = model(states).gather(1, actions.unsqueeze(1)).squeeze(1)
        bootstrap = 0.0 if mask else 0.9 * model(next_states).max(1).values  # target = a copy of model
    assert torch.equal(loss, torch.nn.functional.mse_loss(q, rewards + bootstrap))


def test_contract(zoo_check):
    report = zoo_check("dqn")
    # 20 episodes do not fill the 2,000-transition memory, so nothing is learnt and there is no
    # loss whose drop could be checked: that one check is skipped, every other one passes.
    assert [o.check for o in report.outcomes if o.status != "PASS"] == ["trains"]


def without_gymnasium(args):
    """``zoo ARGS`` in a fresh interpreter where ``import gymnasium`` fails, as when it is not installed."""
    code = (
        "import sys; sys.modules['gymnasium'] = None; from zoo_core.cli import main; "
        f"sys.argv = ['zoo', *{args!r}]; main()"
    )
    env = {**os.environ, "ZOO_LOAD_PLUGINS": "dqn,standard"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)


def test_without_gymnasium_the_lesson_lists():
    proc = without_gymnasium(["list", "models", "dqn"])
    assert proc.returncode == 0, proc.stderr
    assert "405 DQN" in proc.stdout


def test_without_gymnasium_training_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "gymnasium", None)
    out = CliRunner().invoke(cli, ["train", "dqn", "--device", "cpu", "--out", str(tmp_path / "run")])
    assert out.exit_code == 2
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zoo: error: ") and "pip install 'zoo[rl]'" in lines[0]
    assert not (tmp_path / "run").exists()  # nothing started, nothing left behind


def test_zoo_play_draws_a_greedy_episode(run, tmp_path):
    out = tmp_path / "strip.png"
    args = [
        "play",
        str(run.run_dir),
        "--seed",
        "10003",
        "--max-steps",
        "200",
        "--frames",
        "5",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    moves = len(play(run.model, 10003, 200)) - 1
    assert f"played {moves} moves from seed 10003" in result.output
    assert out.read_bytes().startswith(PNG)


def test_accumulation_does_not_apply_and_says_so(tmp_path):
    with pytest.raises(
        zoo_core.ZooError, match="dqn learns at every move of an episode: --accumulate does not apply"
    ):
        zoo_core.train("dqn", steps=2, accumulate=2, device="cpu", out=tmp_path / "r")
