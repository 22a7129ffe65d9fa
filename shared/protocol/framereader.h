#pragma once

#include "messages.h"

#include <QByteArray>
#include <QIODevice>
#include <QList>

namespace filesync::protocol {

// Incremental frame parser: feed it bytes as they arrive (any split), take complete
// messages out. Caps are checked from the length prefix and the message type (the
// second byte of the payload) before a payload buffer is allocated. After an error the
// reader stays failed: the connection must be closed.
class FrameReader
{
public:
    // Appends bytes; returns false (and sets error()) on a protocol violation.
    bool feed(const QByteArray &bytes);
    // Reads up to `max` bytes from `device` straight into the buffer (no intermediate
    // copy: block frames are most of the bytes a connection moves); `got` says how many
    // it read. False as feed().
    bool feedFrom(QIODevice *device, qint64 max, qint64 &got);
    // Takes the next complete, decoded message, if any.
    std::optional<Envelope> take();
    bool hasError() const { return !m_error.isEmpty(); }
    QString error() const { return m_error; }
    qint64 bufferedBytes() const { return m_buffer.size() - m_start; }

private:
    bool parse();
    void compact();

    QByteArray m_buffer;
    qsizetype m_start = 0; // bytes of m_buffer already parsed (dropped at the next read)
    QList<Envelope> m_ready;
    QString m_error;
};

} // namespace filesync::protocol
