"""A misbehaving or scripted GTP engine for the arena tests: ``python fake_engine.py MODE [ARGS]``.

Every command is accepted with an empty answer, except:
- ``genmove``: MODE ``pass`` passes; ``crash`` exits; ``hang`` sleeps; ``illegal`` always
  answers A1 (occupied from its second move on); ``nonsense`` answers ``banana``;
  ``script MOVES DEAD SCORE`` plays the comma-separated MOVES in turn, then passes;
- ``play``: MODE ``refuse`` answers ``? illegal move``;
- ``final_status_list dead`` and ``final_score`` (known only in MODE ``script``): the
  comma-separated DEAD stones (``-`` for none) and SCORE, whatever the position.
"""

import sys
import time

mode = sys.argv[1]
script, dead, score = (sys.argv[2:5] if mode == "script" else ("", "-", ""))
moves = [m for m in script.split(",") if m]
known = ["boardsize", "clear_board", "komi", "play", "genmove", "quit"]
if mode == "script":
    known += ["final_score", "final_status_list"]
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
        answer = "\n".join(known)
    elif name == "genmove":
        if mode == "crash":
            sys.exit(3)
        if mode == "hang":
            time.sleep(60)
        answer = moves.pop(0) if moves else {"illegal": "A1", "nonsense": "banana"}.get(mode, "pass")
    elif name == "play" and mode == "refuse":
        print("? illegal move\n", flush=True)
        continue
    elif name == "final_status_list" and mode == "script":
        answer = "" if dead == "-" else dead.replace(",", " ")
    elif name == "final_score" and mode == "script":
        answer = score
    print(f"= {answer}\n", flush=True)
