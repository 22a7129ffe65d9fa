# Server unit tests: its stores on their own. The server over real sockets is tested in
# tests/integration, the binary in tests/process.
filesync_add_test(NAME tst_server_metadatastore SOURCES tst_server_metadatastore.cpp
    LIBS filesync_server_core LABELS unit)
filesync_add_test(NAME tst_server_blockstore SOURCES tst_server_blockstore.cpp LIBS filesync_server_core LABELS unit)
