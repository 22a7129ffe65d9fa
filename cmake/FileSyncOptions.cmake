# One INTERFACE target that carries warnings and the strict Qt defines to every target.
add_library(filesync_options INTERFACE)
target_compile_options(filesync_options INTERFACE -Wall -Wextra -Wpedantic -Werror)
target_compile_definitions(filesync_options INTERFACE
    QT_NO_KEYWORDS
    QT_NO_CAST_FROM_ASCII
    QT_NO_CAST_TO_ASCII
    QT_NO_CAST_FROM_BYTEARRAY
    QT_NO_URL_CAST_FROM_STRING
    QT_NO_NARROWING_CONVERSIONS_IN_CONNECT
    QT_NO_FOREACH
    QT_NO_CONTEXTLESS_CONNECT
    QT_STRICT_ITERATORS
    FILESYNC_VERSION="${PROJECT_VERSION}")
