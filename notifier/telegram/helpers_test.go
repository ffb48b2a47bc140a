package telegram

import "github.com/feedwatch/feedwatch/notifier"

func notifierCommon(tmpl string) notifier.Common { return notifier.Common{Template: tmpl} }
