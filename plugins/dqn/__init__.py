"""Lesson 405, DQN: a Deep Q-Network learns to balance the pole of CartPole by acting and remembering.

The Q-network ``Linear(4, 50) - ReLU - Linear(50, 2)`` scores the two pushes (left, right) for a
cart-pole state. The agent acts epsilon-greedily, keeps its last 2,000 transitions in a replay
memory, and, once that memory is full, learns at every environment step from 32 transitions drawn
from it (with replacement): MSE between Q(s, a) and ``r + 0.9 * max Q_target(s')``, Adam lr 0.01,
where Q_target is a copy of the network refreshed every 100 learning steps. The reward is the
lesson's shaped one, ``(x_thr - |x|)/x_thr - 0.8 + (th_thr - |th|)/th_thr - 0.5``: more for a cart
near the middle and a pole near upright. 400 episodes on the unwrapped environment (no time limit).
``zoo eval RUN`` plays the greedy policy for 10 seeded episodes capped at 500 steps (CartPole's own
reward, +1 a step) and reports the mean; ``zoo play RUN`` draws one such episode as a PNG strip.

How reinforcement learning fits a loop built for datasets (nothing in zoo's core knows about it):
the data of RL are made by acting, so the dataset entry ``cartpole`` holds what a dataset can hold:
how many episodes there are and the seed each starts from (drawn from the run's seed), plus the
seeds of the evaluation episodes. One loop step is one whole episode (batch size 1, in order), so
``--steps N`` plays N episodes (``--set episodes=N`` makes more than 400 distinct ones) and
metrics.csv has one row per episode. The trainer ``dqn`` owns the rest: the environment, acting,
the replay memory, learning and the target network. An episode starts with ``env.reset(seed)`` and
draws its exploration and minibatches from a generator seeded with the same number, so between
steps neither the environment nor any random stream holds state: resuming needs only the replay
memory, the counters and the target network, which the trainer's ``state_dict`` gives as tensors
(saved with safetensors like everything else).

gymnasium is optional (``pip install 'zoo[rl]'``): it is imported only when an episode is played,
so ``zoo list`` shows the lesson without it and ``zoo train dqn`` says how to install it.

Changed from the tutorial's code:
- gymnasium instead of gym 0.8: ``reset`` returns ``(obs, info)``, ``step`` returns five values;
  the unwrapped ``CartPole-v1`` replaces ``CartPole-v0``.
- Exploration, minibatches and the starting states come from the run's seed, so runs repeat.
- ``epsilon`` is the chance of a random action (0.1); the tutorial's ``EPSILON = 0.9`` is the chance
  of the greedy one.
- An episode stops after ``max_episode_steps`` (1,000) so one step of the loop, and Ctrl-C, stay
  bounded once the pole is balanced; the tutorial's episodes never end then.
- ``--set mask_terminal=true`` drops the bootstrap term at the pole's fall (off by default: the
  tutorial bootstraps through it).
- No live ``env.render()``; episode rewards are logged and drawn into ``episodes.png``.
"""

from zoo_core import hookimpl

LESSON = "405 DQN"


@hookimpl
def register_models(registry):
    registry.add(
        "dqn",
        factory="zoo_plugins.dqn.lesson:QNet",
        summary="Q-network 4-50-2 for CartPole, learnt by DQN with replay memory and a target net",
        lesson=LESSON,
        tags=["reinforcement-learning", "dqn", "mlp"],
        defaults={"n_states": 4, "n_actions": 2, "n_hidden": 50},
        dataset="cartpole",
        optimizer="adam",
        trainer="dqn",
        recipe={"lr": 0.01, "epochs": 1, "batch_size": 1, "shuffle": False, "log_every": 1},
    )


@hookimpl
def register_datasets(registry):
    registry.add(
        "cartpole",
        factory="zoo_plugins.dqn.lesson:cartpole",
        summary="CartPole-v1 episodes (gymnasium): the seed each training episode starts from, and 10 evaluation seeds",
        lesson=LESSON,
        tags=["environment", "reinforcement-learning"],
        defaults={"episodes": 400, "eval_episodes": 10, "eval_seed": 10_000},
    )


@hookimpl
def register_trainers(registry):
    registry.add(
        "dqn",
        factory="zoo_plugins.dqn.lesson:DQNTrainer",
        summary="One episode per step: act epsilon-greedily, remember, learn from replayed minibatches",
        lesson=LESSON,
        tags=["reinforcement-learning", "dqn"],
        defaults={
            "memory_size": 2000,
            "minibatch": 32,
            "gamma": 0.9,
            "epsilon": 0.1,
            "target_every": 100,
            "shaped_reward": True,
            "mask_terminal": False,
            "max_episode_steps": 1000,
            "eval_max_steps": 500,
        },
    )


@hookimpl
def register_commands(cli):
    from zoo_plugins.dqn.commands import play

    cli.add_command(play)
