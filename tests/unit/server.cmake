filesync_add_test(NAME tst_server SOURCES tst_server.cpp LIBS filesync_server_core LABELS unit)
