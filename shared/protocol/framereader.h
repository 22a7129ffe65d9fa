#pragma once

#include "messages.h"

#include <QByteArray>
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
    // Takes the next complete, decoded message, if any.
    std::optional<Envelope> take();
    bool hasError() const { return !m_error.isEmpty(); }
    QString error() const { return m_error; }
    qint64 bufferedBytes() const { return m_buffer.size(); }

private:
    bool parse();

    QByteArray m_buffer;
    QList<Envelope> m_ready;
    QString m_error;
};

} // namespace filesync::protocol
