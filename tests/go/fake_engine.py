"""A misbehaving GTP engine for the arena tests: ``python fake_engine.py MODE``.

Every command is accepted with an empty answer, except:
- ``genmove``: MODE ``pass`` passes; ``crash`` exits; ``hang`` sleeps; ``illegal`` always
  answers A1 (occupied from its second move on); ``nonsense`` answers ``banana``;
- ``play``: MODE ``refuse`` answers ``? illegal move``.
"""

import sys
import time

mode = sys.argv[1]
for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    name = words[0]
    answer = ""
    if name == "quit":
        print("=\n", flush=True)
        break
    if name == "list_commands":
        answer = "\n".join(["boardsize", "clear_board", "komi", "play", "genmove", "quit"])
    elif name == "genmove":
        if mode == "crash":
            sys.exit(3)
        if mode == "hang":
            time.sleep(60)
        answer = {"illegal": "A1", "nonsense": "banana"}.get(mode, "pass")
    elif name == "play" and mode == "refuse":
        print("? illegal move\n", flush=True)
        continue
    print(f"= {answer}\n", flush=True)
