
h-1/hunt/w01.0"cairn.hunt.beacon_found*
time:
€Æ¥ÉÀ„=*
subjectp-7*)
datacontenttypeapplication/protobufB\
&type.googleapis.com/cairn.v1.HuntEvent2
museum-nightp-7beacon_found"b-01(
0Bc-9PM