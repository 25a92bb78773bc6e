/* Roost's version, shared by roostd, roostctl and the SDKs. */
#ifndef ROOST_VERSION_H
#define ROOST_VERSION_H

#define ROOST_VERSION "0.1.0"

#endif
