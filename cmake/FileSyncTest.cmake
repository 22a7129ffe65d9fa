# filesync_test_timeout(out seconds): a test's time limit, scaled for sanitizer builds.
function(filesync_test_timeout out seconds)
    math(EXPR scaled "${seconds} * ${FILESYNC_TEST_TIMEOUT_SCALE}")
    set(${out} ${scaled} PARENT_SCOPE)
endfunction()

# filesync_add_test(NAME tst_x SOURCES a.cpp LIBS lib... [LABELS l...] [TIMEOUT s])
# Every test links the real libraries; QT_QPA_PLATFORM defaults to offscreen.
function(filesync_add_test)
    cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;ENVIRONMENT" ${ARGN})
    add_executable(${T_NAME} ${T_SOURCES})
    target_link_libraries(${T_NAME} PRIVATE Qt6::Test filesync_options ${T_LIBS})
    add_test(NAME ${T_NAME} COMMAND ${T_NAME})
    if(NOT T_TIMEOUT)
        set(T_TIMEOUT 300)
    endif()
    filesync_test_timeout(T_TIMEOUT ${T_TIMEOUT})
    # QtTest's own limit for one test function (5 minutes), scaled the same way.
    math(EXPR function_ms "300000 * ${FILESYNC_TEST_TIMEOUT_SCALE}")
    set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT}
        ENVIRONMENT "QT_QPA_PLATFORM=offscreen;QTEST_FUNCTION_TIMEOUT=${function_ms};${T_ENVIRONMENT}")
    if(T_LABELS)
        set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}")
    endif()
endfunction()
