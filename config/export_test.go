package config

// testChannels are the notifier types this package's tests load with.
// This package cannot import the registry (notifier/build imports config),
// so TestMain in channels_test.go (package config_test) hands it in.
var testChannels []Channel

// SetTestChannels is for TestMain only.
func SetTestChannels(chs []Channel) { testChannels = chs }
