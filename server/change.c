/* Committing a change. See change.h. */
#include "change.h"

#include <stdlib.h>

#include "clock.h"

roost_status change_commit(struct store_txn *t, struct hub *hub, Roost__V1__ChangeEvent *ev,
                           roost_error *err)
{
    size_t len;
    uint8_t *buf;
    roost_status rc;

    ev->revision = t->next_revision;
    if (ev->time_unix_ms == 0)
        ev->time_unix_ms = clock_wall_ms();
    len = roost__v1__change_event__get_packed_size(ev);
    if (!(buf = malloc(len ? len : 1))) {
        store_abort(t);
        return roost_error_set(err, ROOST_ENOMEM, "out of memory encoding the change");
    }
    roost__v1__change_event__pack(ev, buf);
    rc = store_commit_change(t, buf, len, err);
    if (rc == ROOST_OK && hub)
        hub_publish(hub, ev->revision, buf, len);
    free(buf);
    return rc;
}
