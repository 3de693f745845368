
ce-77/gateway/gw11.0"cairn.ble.ping*
time:€Æ¥É€„¸Ù*
subjectp-0042*)
datacontenttypeapplication/protobufBR
$type.googleapis.com/cairn.v1.BlePing*
c-1b-07y ûðªÍ¬3*p-00422museum-night